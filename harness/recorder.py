"""A hidden participant that records every audio track in a room, as it hears them.

Both the agent's and the user's tracks reach it through the server, so their
timings are comparable: what it records is what anyone in the room would hear.
Each received frame is kept with its arrival time (``time.monotonic()``);
:mod:`harness.speech_energy` finds the speech in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from livekit import rtc

from harness.livekit_server import LiveKitServer
from harness.participants import join
from harness.speech_energy import Frame, Utterance, rms, utterances

SAMPLE_RATE = 48000


@dataclass
class Track:
    """One participant's audio as received: frames with their times, and the samples."""

    identity: str
    frames: list[Frame] = field(default_factory=list)
    pcm: bytearray = field(default_factory=bytearray)

    def utterances(self, **options: float) -> list[Utterance]:
        return utterances(self.frames, now=time.monotonic(), **options)

    def write_wav(self, path: Path) -> Path:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(bytes(self.pcm))
        return path


@dataclass
class Recorder:
    room: rtc.Room
    tracks: dict[str, Track] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def join(cls, server: LiveKitServer, room: str, identity: str = "recorder") -> Recorder:
        rec = cls(rtc.Room())
        rec.room.on("track_subscribed", rec._on_track)
        # hidden: the agent must not take it for its user, nor wait for it
        await join(server, room, identity, hidden=True, room_obj=rec.room)
        return rec

    def _on_track(
        self,
        track: rtc.Track,
        _publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        recording = self.tracks.setdefault(participant.identity, Track(participant.identity))
        task = asyncio.ensure_future(self._record(track, recording))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, track: rtc.Track, recording: Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                frame = event.frame
                data = bytes(frame.data)
                recording.frames.append(Frame(time.monotonic(), frame.duration, rms(data)))
                recording.pcm += data
                self._changed.set()
        finally:
            await stream.aclose()

    def track(self, identity: str) -> Track:
        return self.tracks.setdefault(identity, Track(identity))

    def utterances(self, identity: str, **options: float) -> list[Utterance]:
        return self.track(identity).utterances(**options)

    async def wait_for(
        self,
        identity: str,
        predicate: Callable[[list[Utterance]], bool],
        timeout: float = 15.0,
        **options: float,
    ) -> list[Utterance]:
        """Wait until ``predicate(utterances of identity)`` holds; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.utterances(identity, **options)
            if predicate(found):
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{identity}'s speech so far: {found}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))

    async def wait_for_speech(
        self, identity: str, *, after: float, timeout: float = 15.0, **options: float
    ) -> Utterance:
        """The first utterance of ``identity`` that starts after ``after``, once it starts."""
        found = await self.wait_for(
            identity, lambda us: any(u.start >= after for u in us), timeout, **options
        )
        return next(u for u in found if u.start >= after)

    async def wait_for_end(
        self, identity: str, *, after: float, quiet_s: float, timeout: float = 30.0
    ) -> Utterance:
        """The first utterance starting after ``after``, once ``quiet_s`` of silence followed it."""
        found = await self.wait_for(
            identity,
            lambda us: any(u.start >= after and u.closed for u in us),
            timeout,
            gap_s=quiet_s,
        )
        return next(u for u in found if u.start >= after)

    async def leave(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()
