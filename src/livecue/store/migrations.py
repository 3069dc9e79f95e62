"""Versioned schema migrations: numbered ``.sql`` files, applied in order, each once.

``schema_version`` holds one row per migration applied. A database newer than
this livecue (a later version's migrations applied) is refused rather than
guessed at.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available(backend: str) -> list[Migration]:
    """The migrations shipped for ``backend`` (``sqlite``), oldest first."""
    folder = resources.files(__package__).joinpath("sql").joinpath(backend).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {versions}")
    return found


class SchemaTooNew(RuntimeError):
    pass


def migrate_sqlite(conn: sqlite3.Connection, path: str) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns the versions applied.

    Each runs in its own IMMEDIATE transaction (SQLite's write lock), so two processes
    opening the same file cannot both apply one. Foreign keys are off while a migration
    rebuilds tables, and checked before it commits.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    migrations = available("sqlite")
    applied: list[int] = []
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for migration in migrations:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
                if current > len(migrations):
                    raise SchemaTooNew(
                        f"database {path} has schema version {current}, newer than this "
                        f"livecue's {len(migrations)}: upgrade livecue"
                    )
                if migration.version <= current:
                    conn.execute("COMMIT")
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                problems = conn.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"migration {migration.version} broke foreign keys")
                conn.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (migration.version,)
                )
                conn.execute("COMMIT")
                applied.append(migration.version)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` finds the ends)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement and not all(
                part.strip().startswith("--") or not part.strip() for part in statement.splitlines()
            ):
                out.append(statement)
            buffer = ""
    if buffer.strip() and not all(
        p.strip().startswith("--") or not p.strip() for p in buffer.splitlines()
    ):
        raise RuntimeError("a migration ends with an incomplete statement")
    return out
