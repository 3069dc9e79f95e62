"""This gateway instance among the others serving one database.

Each instance renews a row in the store (a heartbeat); one that stops renewing is gone
after :data:`TTL_S`, and the cues it was sending are taken over. Work that any instance
could do but only one should — asking an agent what became of its cues, checking a
held room — is split by rendezvous hashing over the live instances: every instance
computes the same owner for a room without talking to the others, and when one goes,
only its share moves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from ...store import Store

logger = logging.getLogger("livecue.gateway.instances")

HEARTBEAT_S = 2.0
TTL_S = 10.0
"""An instance silent for this long is taken for gone."""


def owner_of(key: str, instances: list[str]) -> str | None:
    """The instance responsible for ``key`` (pure; the same answer on every instance)."""
    if not instances:
        return None
    return max(instances, key=lambda i: hashlib.sha256(f"{i}\0{key}".encode()).digest())


class Instance:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._store = store
        self._clock = clock
        self._live: list[str] = [self.id]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join (SQLite: refuse to start beside another instance), then keep renewing."""
        await self._store.attach_instance(
            self.id, host=self.host, pid=self.pid, now=self._clock(), ttl=TTL_S
        )
        await self._refresh()
        self._task = asyncio.create_task(self._beat(), name="livecue-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self._store.detach_instance(self.id, now=self._clock())
        except Exception as exc:  # the database is down: the row simply expires
            logger.warning("could not sign off from the database: %s", exc)

    def mine(self, key: str) -> bool:
        """Whether this instance does the work for ``key`` (a room, an agent)."""
        return owner_of(key, self._live) in (self.id, None)

    async def _refresh(self) -> None:
        live = await self._store.live_instances(now=self._clock())
        self._live = sorted(set(live) | {self.id})

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._store.heartbeat(
                    self.id, host=self.host, pid=self.pid, now=self._clock(), ttl=TTL_S
                )
                await self._refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("heartbeat failed: %s", exc)
