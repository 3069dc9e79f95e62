"""The variables livecue reads: the environment, over a ``.env`` file. Stdlib only (the
command line reads its settings before it knows what it will import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

URL_VARIABLE = "LIVECUE_GATEWAY_URL"
"""The gateway's URL, for livecue.Client and the command line."""
KEY_VARIABLE = "LIVECUE_API_KEY"
"""An API key of the gateway, for livecue.Client and the command line."""


def environment(
    env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env"
) -> dict[str, str | None]:
    """The variables livecue reads: a ``.env`` file's, overridden by the environment's."""
    values: dict[str, str | None] = {}
    if dotenv is not None and Path(dotenv).is_file():
        from dotenv import dotenv_values  # only when there is a file to read

        values.update(dotenv_values(dotenv))
    values.update(os.environ if env is None else env)
    return values
