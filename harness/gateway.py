"""Run `livecue serve` as a real process against a local livekit-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.livekit_server import LiveKitServer, free_port
from harness.processes import terminate

LIVECUE = str(Path(sys.executable).with_name("livecue"))


@dataclass
class GatewayProcess:
    """A gateway process; ``restart()`` keeps its port and database, like a supervisor would."""

    livekit: LiveKitServer
    db: str = ""
    config: str | None = None
    port: int = field(default_factory=free_port)
    env_extra: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None
    _dir: tempfile.TemporaryDirectory[str] | None = None
    _log: Path | None = None

    def __post_init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="livecue-gw-")
        if not self.db:
            self.db = str(Path(self._dir.name) / "gateway.db")
        self._log = Path(self._dir.name) / "gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        """Where livekit-server should send its webhooks."""
        return f"{self.url}/livekit/webhook"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.livekit.env, **self.env_extra}

    def create_key(self, *scopes: str) -> str:
        args = [LIVECUE, "keys", "create", "--db", self.db]
        for scope in scopes:
            args += ["--scope", scope]
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]

    def start(self, timeout_s: float = 20.0) -> GatewayProcess:
        self.spawn()
        return self.wait_ready(timeout_s)

    def spawn(self) -> None:
        """Start the process and return at once (see :meth:`wait_ready`)."""
        args = [LIVECUE, "serve", "--port", str(self.port), "--db", self.db]
        if self.config:
            args += ["--config", self.config]
        assert self._log is not None
        log = self._log.open("ab")
        self._proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 20.0) -> GatewayProcess:
        """Wait until the process answers /healthz (it has started, migrated, and serves)."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"livecue serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"livecue serve did not answer within {timeout_s}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown, no draining."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait: the graceful path."""
        if self._proc is None:
            return None
        return terminate(self._proc, timeout_s)

    def restart(self) -> GatewayProcess:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
