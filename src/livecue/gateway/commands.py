"""``livecue serve`` and ``livecue keys create``: the gateway's command-line entry points.

Registered by ``livecue.cli``; the heavy imports (FastAPI, uvicorn) happen only
when one of these commands runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .._scopes import SCOPES


def add_commands(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the gateway: HTTP API, webhooks and schedules",
        description="Run the livecue gateway. Settings come from LIVECUE_* variables "
        "(see the README); the options below override them. LiveKit credentials come "
        "from LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.",
        epilog="example: livecue serve --port 8080 --config livecue.yaml --db livecue.db",
    )
    serve.add_argument("--host", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: 8080)")
    serve.add_argument("--config", metavar="FILE", help="YAML file with hooks and schedules")
    serve.add_argument(
        "--db", metavar="PATH", help="SQLite database file (default: livecue.db here)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_serve)

    keys = commands.add_parser(
        "keys",
        help="manage the gateway's API keys",
        description="Manage the gateway's API keys (stored hashed in its database).",
    )
    key_commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    create = key_commands.add_parser(
        "create",
        help="create an API key and print it once",
        description="Create an API key with the given scopes. The key is printed once, on "
        "the last line of output; only its hash is stored.",
        epilog="example: livecue keys create --scope send --scope read --db livecue.db",
    )
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=SCOPES,
        help="a scope to grant (repeat for several): send, broadcast, read, agent, admin",
    )
    create.add_argument("--name", help="a label for the key (who or what uses it)")
    create.add_argument("--db", metavar="PATH", help="SQLite database file (default: livecue.db)")
    create.set_defaults(run=_keys_create)


def _settings(args: argparse.Namespace) -> Any:
    from .config import Settings

    overrides = {k: getattr(args, k, None) for k in ("host", "port", "config", "db")}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .._livekit import Credentials
    from .app import create_app
    from .logs import configure_logging

    configure_logging(args.log_level)
    settings = _settings(args)
    app = create_app(settings, credentials=Credentials.from_env())
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structured logging, configured above
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    import asyncio

    from ..store import SQLiteStore
    from .services import keys

    settings = _settings(args)
    issued = keys.issue()
    scopes = sorted(set(args.scope))

    async def store_key() -> None:
        store = SQLiteStore(settings.db)
        try:
            await store.migrate()
            await store.add_key(
                issued.key_id, issued.secret_hash, scopes, name=args.name, now=time.time()
            )
        finally:
            await store.aclose()

    asyncio.run(store_key())
    print(
        json.dumps({"key_id": issued.key_id, "scopes": scopes, "db": settings.db}), file=sys.stderr
    )
    print(issued.token)
    return 0
