"""``livecue serve`` and ``livecue keys create``: the gateway's command-line entry points.

Registered by ``livecue.cli``; the heavy imports (FastAPI, uvicorn) happen only
when one of these commands runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from .._scopes import SCOPES

if TYPE_CHECKING:
    from types import FrameType

    from ..store import KeyRecord, Store

T = TypeVar("T")

STARTUP_FAILURE = 3
"""The exit status of a gateway that could not start (uvicorn's own)."""

_DB_HELP = (
    "the database: a SQLite file path (or sqlite:///path), or a postgresql:// URL to run "
    "several gateway instances on one PostgreSQL (default: LIVECUE_DB, else livecue.db)"
)


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
    serve.add_argument("--db", metavar="DB", help=_DB_HELP)
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
    create.add_argument(
        "--callback-url",
        metavar="URL",
        help="where the final outcomes of this key's cues are POSTed, signed, unless a cue "
        "names its own (must be on LIVECUE_CALLBACK_ALLOW)",
    )
    create.add_argument("--db", metavar="DB", help=_DB_HELP)
    create.set_defaults(run=_keys_create)

    listing = key_commands.add_parser(
        "list",
        help="list the API keys (never their secrets)",
        description="List every API key: id, name, scopes, when created and when revoked. "
        "Secrets are not stored, so they cannot be shown.",
    )
    listing.add_argument("--db", metavar="DB", help=_DB_HELP)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_keys_list)

    revoke = key_commands.add_parser(
        "revoke",
        help="revoke an API key",
        description="Revoke an API key: every request made with it is refused (401) within "
        "2 seconds. The record stays, marked revoked.",
        epilog="example: livecue keys revoke 3f9c2a1b0d4e5f60 --db livecue.db",
    )
    revoke.add_argument("key_id", metavar="ID", help="the key's id (see livecue keys list)")
    revoke.add_argument("--db", metavar="DB", help=_DB_HELP)
    revoke.set_defaults(run=_keys_revoke)

    db = commands.add_parser(
        "db",
        help="the gateway's database: migrate it, or show its schema version",
        description="The gateway migrates its database on start; these do it by hand.",
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    migrate = db_commands.add_parser(
        "migrate",
        help="apply the migrations the database lacks",
        description="Apply the schema migrations the database lacks, in order, each once "
        "(several instances starting at once migrate once).",
    )
    migrate.add_argument("--db", metavar="DB", help=_DB_HELP)
    migrate.set_defaults(run=_db_migrate)
    status = db_commands.add_parser(
        "status",
        help="show the database's schema version and what is pending",
        description="Show the backend, the schema version of the database and the newest "
        "this livecue knows. Exits 1 if migrations are pending.",
    )
    status.add_argument("--db", metavar="DB", help=_DB_HELP)
    status.set_defaults(run=_db_status)


def _settings(args: argparse.Namespace) -> Any:
    from .config import Settings

    overrides = {k: getattr(args, k, None) for k in ("host", "port", "config", "db")}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .._livekit import Credentials
    from ..store import SQLiteStore, open_store
    from ..store.sqlite import ensure_free
    from .app import create_app
    from .logs import configure_logging

    configure_logging(args.log_level)
    settings = _settings(args)
    store = open_store(settings.db)
    if isinstance(store, SQLiteStore):
        ensure_free(store.path)  # one gateway per SQLite file: refuse now, in one line
    app = create_app(settings, credentials=Credentials.from_env())
    gateway = app.state.gateway

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # before uvicorn waits for open responses: the console's live streams end now
            gateway.draining = True
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structured logging, configured above
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE


def _with_store(
    args: argparse.Namespace,
    work: Callable[[Store], Awaitable[T]],
    *,
    migrate: bool = True,
    existing: bool = False,
) -> T:
    """Run ``work`` on the gateway's store (migrated first), then close it. ``existing``:
    a SQLite file that is not there is an error, not a new empty database."""
    import asyncio  # here, not at the top: `livecue --help` should not pay for it

    from .._errors import ConfigError
    from ..store import SQLiteStore, open_store

    db = _settings(args).db
    store_kind = open_store(db)
    if existing and isinstance(store_kind, SQLiteStore) and not os.path.exists(store_kind.path):
        raise ConfigError(f"no database at {store_kind.path} (give --db, or set LIVECUE_DB)")

    async def run() -> T:
        store = open_store(db)
        try:
            if migrate:
                await store.migrate()
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(run())


def _db_migrate(args: argparse.Namespace) -> int:
    async def migrate(store: Store) -> tuple[list[int], tuple[int, int]]:
        return await store.migrate(), await store.schema_version()

    applied, (version, _) = _with_store(args, migrate, migrate=False)
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))}: schema version {version}")
    else:
        print(f"nothing to do: schema version {version} is current")
    return 0


def _db_status(args: argparse.Namespace) -> int:
    async def status(store: Store) -> tuple[str, tuple[int, int]]:
        return store.backend, await store.schema_version()

    backend, (version, newest) = _with_store(args, status, migrate=False, existing=True)
    pending = newest - version
    state = "up to date" if pending <= 0 else f"{pending} migration(s) pending"
    print(f"{backend}: schema version {version} of {newest} ({state})")
    return 0 if pending <= 0 else 1


def _keys_create(args: argparse.Namespace) -> int:
    from ..store import describe
    from .services import keys
    from .services.callbacks import AllowList

    settings = _settings(args)
    scopes = sorted(set(args.scope))
    allow = AllowList.parse(settings.callback_allow)
    if args.callback_url is not None:
        allow.check(args.callback_url, "--callback-url")  # before a database is made

    async def store_key(store: Store) -> tuple[KeyRecord, str]:
        return await keys.create(
            store,
            scopes,
            name=args.name,
            now=time.time(),
            allow=allow,
            callback_url=args.callback_url,
            field="--callback-url",
        )

    record, token = _with_store(args, store_key)
    print(
        json.dumps({"key_id": record.id, "scopes": scopes, "db": describe(settings.db)}),
        file=sys.stderr,
    )
    print(token)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    async def read(store: Store) -> list[KeyRecord]:
        return await store.list_keys()

    records = _with_store(args, read, existing=True)
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "scopes": sorted(k.scopes),
            "created_at": _stamp(k.created_at),
            "revoked_at": _stamp(k.revoked_at) if k.revoked_at is not None else None,
        }
        for k in records
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("no API keys (create one with: livecue keys create --scope ...)")
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column, no_wrap=column != "name")
    for row in rows:
        table.add_row(
            Text(str(row["id"])),
            Text(str(row["name"] or "")),
            Text(" ".join(row["scopes"])),  # type: ignore[arg-type]
            Text(str(row["created_at"])),
            Text(str(row["revoked_at"] or "")),
        )
    Console(highlight=False).print(table)
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    async def revoke(store: Store) -> tuple[bool, bool]:
        existed = any(k.id == args.key_id for k in await store.list_keys())
        return existed, await store.revoke_key(args.key_id, now=time.time())

    existed, revoked = _with_store(args, revoke, existing=True)
    if not existed:
        print(f"error: no API key with id {args.key_id!r}", file=sys.stderr)
        return 1
    if not revoked:
        print(f"key {args.key_id} was already revoked")
        return 0
    print(f"revoked key {args.key_id}")
    return 0


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
