"""A test user who talks: publishes a microphone track and speaks espeak-ng audio into it.

The track carries audio all the time, silence between utterances, the way a
real microphone does; the agent's voice activity detector needs the silence to
notice that the user stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

from espeak_tts import Speech
from harness.livekit_server import LiveKitServer
from harness.participants import join

SAMPLE_RATE = 48000
FRAME_MS = 10
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
# What the source may hold ahead of real time: small, so speech goes out when asked.
QUEUE_MS = 40


def resample(speech: Speech, rate: int = SAMPLE_RATE) -> np.ndarray:
    """``speech`` as 16-bit samples at ``rate``, with LiveKit's own resampler."""
    resampler = rtc.AudioResampler(speech.sample_rate, rate, num_channels=1)
    frames = resampler.push(bytearray(speech.pcm)) + resampler.flush()
    parts = [np.frombuffer(bytes(f.data), dtype=np.int16) for f in frames]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


@dataclass
class Spoken:
    """When an utterance went into the track (monotonic), first and last frame."""

    started: float
    ended: float


@dataclass
class VoiceUser:
    room: rtc.Room
    source: rtc.AudioSource
    _queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[Spoken]]] = field(
        default_factory=asyncio.Queue
    )
    _pump: asyncio.Task[None] | None = None

    @classmethod
    async def join(cls, server: LiveKitServer, room: str, identity: str = "user") -> VoiceUser:
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=QUEUE_MS)
        user = cls(rtc.Room(), source)
        await join(server, room, identity, room_obj=user.room)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await user.room.local_participant.publish_track(track, options)
        user._pump = asyncio.ensure_future(user._run())
        return user

    def start_saying(self, speech: Speech) -> asyncio.Future[Spoken]:
        """Queue ``speech``; the future resolves when its last frame went into the track."""
        done: asyncio.Future[Spoken] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((resample(speech), done))
        return done

    async def say(self, speech: Speech) -> Spoken:
        return await self.start_saying(speech)

    async def _run(self) -> None:
        silence = np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)
        while True:
            try:
                samples, done = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                await self._capture(silence)
                continue
            started = time.monotonic()
            for at in range(0, len(samples), SAMPLES_PER_FRAME):
                chunk = samples[at : at + SAMPLES_PER_FRAME]
                if len(chunk) < SAMPLES_PER_FRAME:
                    chunk = np.concatenate([chunk, silence[: SAMPLES_PER_FRAME - len(chunk)]])
                await self._capture(chunk)
            if not done.done():
                done.set_result(Spoken(started, time.monotonic()))

    async def _capture(self, samples: np.ndarray) -> None:
        frame = rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, len(samples))
        await self.source.capture_frame(frame)  # waits while the queue is full: real time

    async def leave(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.source.aclose()
        await self.room.disconnect()
