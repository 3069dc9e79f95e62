"""Run a real livekit-server on loopback ports of its own, with a fresh key pair."""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness.processes import terminate

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("LIVECUE_LIVEKIT_SERVER", ROOT / ".cache/bin/livekit-server"))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free loopback port below the kernel's ephemeral range (32768+).

    Ports the kernel hands out for port 0 come from the ephemeral range, where
    the many client connections of a busy test run can take them before the
    server binds; picking from below it avoids that race.
    """
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-32000")


@dataclass
class LiveKitServer:
    """A livekit-server process. ``start()`` blocks until it answers HTTP."""

    webhook_urls: list[str] = field(default_factory=list)
    api_key: str = field(default_factory=lambda: "lc" + secrets.token_hex(6))
    api_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)
    udp_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    stun_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    empty_timeout_s: int = 30
    """A room with no participant but agents closes this long after it was created."""
    _proc: subprocess.Popen[bytes] | None = None
    _dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }

    def config_yaml(self) -> str:
        lines = [
            f"port: {self.port}",
            "bind_addresses: ['127.0.0.1']",
            "rtc:",
            # no ICE over TCP: its listener would bind every interface, not just loopback
            "  tcp_port: 0",
            # one UDP port for all peers (ICE mux), candidates on loopback only
            f"  udp_port: {self.udp_port}",
            "  use_external_ip: false",
            "  node_ip: 127.0.0.1",
            "  enable_loopback_candidate: true",
            "  ips:",
            "    includes: ['127.0.0.1/32']",
            # Without this, clients are handed public STUN host names; every connection
            # then blocks a thread on a DNS lookup that this closed network never answers.
            # A closed loopback port fails at once instead.
            "  stun_servers:",
            f"    - 127.0.0.1:{self.stun_port}",
            "keys:",
            f"  {self.api_key}: {self.api_secret}",
            "logging:",
            "  level: warn",
            "room:",
            f"  empty_timeout: {self.empty_timeout_s}",
        ]
        if self.webhook_urls:
            lines += ["webhook:", f"  api_key: {self.api_key}", "  urls:"]
            lines += [f"    - {u}" for u in self.webhook_urls]
        return "\n".join(lines) + "\n"

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (benchmarks read its CPU time)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / "livekit-server.log"

    def start(self, timeout_s: float = 20.0) -> LiveKitServer:
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run `make setup` first")
        self._dir = tempfile.TemporaryDirectory(prefix="livecue-lk-")
        config = Path(self._dir.name) / "livekit.yaml"
        config.write_text(self.config_yaml())
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [str(BINARY), "--dev", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"livekit-server exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.http_url, timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"livekit-server did not answer within {timeout_s}s")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self._proc is not None:
            terminate(self._proc)
        self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> LiveKitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
