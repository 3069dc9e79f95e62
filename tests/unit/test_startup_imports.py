"""``import livecue`` and ``livecue --help`` load no network, agent or web framework.

Checked in a fresh interpreter, since the test session has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IMPORT = "import livecue"
HELP = """
import contextlib, io
import livecue.cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    livecue.cli.main(["--help"])
"""
REPORT = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"

HEAVY = ("aiohttp", "httpx", "livekit", "fastapi", "starlette", "pydantic", "asyncio")


@pytest.mark.parametrize("program", [IMPORT, HELP], ids=["import livecue", "livecue --help"])
def test_starting_up_imports_nothing_heavy(program: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", program + REPORT],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    modules = json.loads(out)
    assert "livecue" in modules
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def test_names_are_handed_on_when_first_used() -> None:
    program = (
        "import sys, livecue\n"
        "before = 'livecue.sender' in sys.modules\n"
        "sender = livecue.CueSender\n"
        "print(before, 'livecue.sender' in sys.modules, sender.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.split() == ["False", "True", "livecue.sender"]
