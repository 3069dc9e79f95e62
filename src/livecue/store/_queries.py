"""Load named SQL queries from a .sql file (``-- name: NAME`` headers)."""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load(filename: str) -> dict[str, str]:
    text = resources.files(__package__).joinpath("sql").joinpath(filename).read_text()
    parts = _HEADER.split(text)
    # parts: [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def script(filename: str) -> str:
    return resources.files(__package__).joinpath("sql").joinpath(filename).read_text()
