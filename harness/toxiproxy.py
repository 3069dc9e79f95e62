"""A WAN between clients and livekit-server's HTTP API: toxiproxy with a latency toxic.

``scripts/install-toxiproxy.sh`` builds ``toxiproxy-server`` into ``.cache/bin``.
Its control API is three JSON calls (create a proxy, add a toxic per direction),
made here with the standard library: the Python client on PyPI has not been
maintained since 2019.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness.livekit_server import ROOT, free_port
from harness.processes import terminate

BINARY = Path(os.environ.get("LIVECUE_TOXIPROXY", ROOT / ".cache/bin/toxiproxy-server"))


@dataclass
class WanProfile:
    """Latency added to each direction, with jitter: one round trip is twice ``one_way_ms``."""

    one_way_ms: int = 25
    jitter_ms: int = 5

    @property
    def rtt_ms(self) -> int:
        return 2 * self.one_way_ms


@dataclass
class Toxiproxy:
    """A toxiproxy-server process with one proxy, ``listen_port`` → ``upstream_port``."""

    upstream_port: int
    profile: WanProfile = field(default_factory=WanProfile)
    api_port: int = field(default_factory=free_port)
    listen_port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None
    _log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        """livekit-server's URL through the proxy (the HTTP API honours ws:// URLs too)."""
        return f"ws://127.0.0.1:{self.listen_port}"

    def start(self, timeout_s: float = 10.0) -> Toxiproxy:
        if not BINARY.exists():
            raise FileNotFoundError(f"{BINARY} is missing: run ./scripts/install-toxiproxy.sh")
        # closed in stop(): it lives as long as the process writing to it
        self._log = tempfile.NamedTemporaryFile(prefix="toxiproxy-", suffix=".log")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(BINARY), "-host", "127.0.0.1", "-port", str(self.api_port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._call("GET", "/version")
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("toxiproxy-server did not start") from None
                time.sleep(0.05)
        self._call(
            "POST",
            "/proxies",
            {
                "name": "livekit",
                "listen": f"127.0.0.1:{self.listen_port}",
                "upstream": f"127.0.0.1:{self.upstream_port}",
                "enabled": True,
            },
        )
        for stream in ("upstream", "downstream"):
            self._call(
                "POST",
                "/proxies/livekit/toxics",
                {
                    "name": f"latency_{stream}",
                    "type": "latency",
                    "stream": stream,
                    "attributes": {
                        "latency": self.profile.one_way_ms,
                        "jitter": self.profile.jitter_ms,
                    },
                },
            )
        return self

    def _call(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read()
        return json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        if self._proc is not None:
            terminate(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Toxiproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
