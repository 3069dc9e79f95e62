"""A test participant that reads what the agent says from the lk.transcription stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from livekit import rtc

from harness.livekit_server import LiveKitServer
from harness.participants import join

TRANSCRIPTION_TOPIC = "lk.transcription"


@dataclass
class Segment:
    sender: str
    segment_id: str
    started: float
    text: str = ""
    ended: float | None = None

    @property
    def done(self) -> bool:
        return self.ended is not None


@dataclass
class Observer:
    """Joins as the agent's linked user and records every transcript segment of the agent."""

    room: rtc.Room
    segments: list[Segment] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def join(cls, server: LiveKitServer, room: str, identity: str = "user") -> Observer:
        obs = cls(rtc.Room())
        obs.room.register_text_stream_handler(TRANSCRIPTION_TOPIC, obs._on_stream)
        await join(server, room, identity, room_obj=obs.room)
        return obs

    def _on_stream(self, reader: rtc.TextStreamReader, sender: str) -> None:
        if sender == self.room.local_participant.identity:
            return  # our own (user) transcripts, if any
        seg = Segment(
            sender=sender,
            segment_id=reader.info.attributes.get("lk.segment_id", ""),
            started=time.monotonic(),
        )
        self.segments.append(seg)
        task = asyncio.ensure_future(self._read(reader, seg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, reader: rtc.TextStreamReader, seg: Segment) -> None:
        async for chunk in reader:
            seg.text += chunk
            self._changed.set()
        seg.ended = time.monotonic()
        self._changed.set()

    def finished(self) -> list[Segment]:
        return [s for s in self.segments if s.done and s.text.strip()]

    def texts(self) -> list[str]:
        return [s.text.strip() for s in self.finished()]

    async def wait_for(
        self, predicate: Callable[[list[Segment]], bool], timeout: float = 10.0
    ) -> list[Segment]:
        """Wait until ``predicate(finished segments)`` holds; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate(self.finished()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"agent transcript so far: {self.texts()!r}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
        return self.finished()

    async def wait_for_text(self, needle: str, timeout: float = 10.0) -> Segment:
        segs = await self.wait_for(lambda s: any(needle in x.text for x in s), timeout)
        return next(s for s in segs if needle in s.text)

    async def wait_until_saying(self, needle: str, timeout: float = 10.0) -> Segment:
        """Wait until a segment, finished or still streaming, contains ``needle``."""
        deadline = time.monotonic() + timeout
        while True:
            for seg in self.segments:
                if needle in seg.text:
                    return seg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"agent never said {needle!r}: {self.texts()!r}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def quiet_for(self, seconds: float) -> list[str]:
        """Texts finished during the next ``seconds`` (for asserting silence)."""
        before = len(self.finished())
        await asyncio.sleep(seconds)
        return [s.text.strip() for s in self.finished()[before:]]

    async def leave(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.room.disconnect()
