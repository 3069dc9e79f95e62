"""A real HTTP server on loopback that records what it is sent: the receiving end of the
gateway's status callbacks in tests.

Its answers are scripted: a queue of statuses (or delays) used in order, then a default.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from harness.livekit_server import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.time() when it arrived."""


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    """Statuses to answer with, in order; then ``default``."""
    default: int = 204
    delay_s: float = 0.0
    """How long to wait before answering (a slow receiver)."""
    redirect_to: str | None = None
    """Answer 302 to this location (for 3xx statuses)."""
    body_size: int = 0
    """Answer with a body this many bytes long, streamed (a receiver that talks too much)."""
    streamed: int = 0
    """How many bytes of such bodies the gateway let it write."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/cb/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path_prefix: str) -> list[Received]:
        return [r for r in self.received if r.path.startswith(path_prefix)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.path_qs, dict(request.headers), body, time.time()))
        self.arrived.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.answers.pop(0) if self.answers else self.default
        headers = {"Location": self.redirect_to} if self.redirect_to and 300 <= status < 400 else {}
        if self.body_size:
            return await self._stream(request, status)
        return web.Response(status=status, headers=headers)

    async def _stream(self, request: web.Request, status: int) -> web.StreamResponse:
        response = web.StreamResponse(status=status)
        response.content_length = self.body_size
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            while self.streamed < self.body_size:
                await response.write(chunk)
                self.streamed += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the gateway hung up, as it should
        return response


@asynccontextmanager
async def receiver(port: int | None = None) -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    rec = Receiver(port or free_port())
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", rec.port)
    await site.start()
    try:
        yield rec
    finally:
        await runner.cleanup()
