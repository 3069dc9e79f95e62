"""``livecue send`` starts quickly: it imports only what sending a cue needs.

Checked in a fresh interpreter, since the test session has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import livecue.cli as cli
args = cli.build_parser().parse_args(["send", "room", "hello", "--transport", "data"])
cli._build_cue(args)
print(json.dumps(sorted(sys.modules)))
"""

# Not for `send`: pydantic (the envelope is stdlib only), the gateway and its store,
# rich (tables and progress bars of other commands), dotenv (only when a .env file exists),
# httpx (the gateway's client, for --gateway only).
UNWANTED = (
    "httpx",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "fastapi",
    "starlette",
    "uvicorn",
    "yaml",
    "jinja2",
    "croniter",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "aiosqlite",
    "rich",
    "dotenv",
    "livecue.store",
    "livecue.gateway.app",
    "livecue.gateway.config",
    "livecue.gateway.services",
)


def test_the_send_command_imports_nothing_it_does_not_need() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    modules = json.loads(out)
    loaded = sorted(m for m in modules if any(m == u or m.startswith(u + ".") for u in UNWANTED))
    assert loaded == []


def test_broadcast_concurrency_defaults_to_the_sender_s() -> None:
    import livecue.cli as cli
    from livecue.sender import DEFAULT_CONCURRENCY

    args = cli.build_parser().parse_args(["broadcast", "hello", "--all"])
    assert args.concurrency == DEFAULT_CONCURRENCY
