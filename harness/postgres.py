"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temporary
directory, listening on a loopback port of its own, stopped and removed at the end.

The server binaries come from Debian's ``postgresql`` package (``make setup`` installs it);
they live in a versioned folder, not on PATH. PostgreSQL refuses to run as root: as root,
the cluster runs as the ``postgres`` system user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness.livekit_server import free_port


def find_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb (or LIVECUE_PG_BIN)."""
    override = os.environ.get("LIVECUE_PG_BIN")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for path in reversed(candidates):
        if path and (Path(path) / "initdb").exists():
            return Path(path)
    raise RuntimeError("PostgreSQL's server binaries are missing: run `make setup` first")


@dataclass
class PostgresServer:
    port: int = field(default_factory=free_port)
    user: str = "livecue"
    _dir: str | None = None
    _bin: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def database(self, name: str | None = None) -> str:
        """A fresh, empty database in this cluster; its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._psql(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def start(self, timeout_s: float = 60.0) -> PostgresServer:
        self._bin = find_bin_dir()
        self._dir = tempfile.mkdtemp(prefix="livecue-pg-")
        data = Path(self._dir) / "data"
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self._dir, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self._bin / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust",
            "--no-instructions", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        self._ctl("start", timeout_s)
        return self

    def stop_server(self) -> None:
        """``pg_ctl stop -m fast``, keeping the data: every connection is cut."""
        self._ctl("stop", 60)

    def start_server(self, timeout_s: float = 60.0) -> None:
        """Start the stopped server again, on the same port and data."""
        self._ctl("start", timeout_s)

    def restart(self, timeout_s: float = 60.0) -> None:
        """``pg_ctl restart -m fast``: every connection is cut."""
        self._ctl("restart", timeout_s)

    def stop(self) -> None:
        if self._dir is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", 60)
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def log_tail(self, lines: int = 30) -> str:
        assert self._dir is not None
        path = Path(self._dir) / "postgres.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _ctl(self, action: str, timeout_s: float) -> None:
        assert self._dir is not None and self._bin is not None
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1"
        args = [str(self._bin / "pg_ctl"), "-D", f"{self._dir}/data", "-w"]
        args += ["-t", str(int(timeout_s)), "-l", f"{self._dir}/postgres.log"]
        if action in ("start", "restart"):
            args += ["-o", options]
        if action in ("stop", "restart"):
            args += ["-m", "fast"]
        self._run(*args, action)

    def _psql(self, sql: str) -> None:
        assert self._bin is not None
        psql = self._bin / "psql" if (self._bin / "psql").exists() else Path("psql")
        deadline = time.monotonic() + 10
        while True:
            done = subprocess.run(
                [str(psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                 "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, cwd="/")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
