"""Where speech is in a recording, found by energy: pure functions over received frames.

A recording is a list of :class:`Frame`: when a frame of audio was received and how
loud it was. Speech is every run of loud frames; runs closer together than a gap
(the pauses between words and sentences) form one :class:`Utterance`. Times are
whatever clock the recorder used (``time.monotonic()`` in the harness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# RMS of 16-bit samples. espeak-ng's speech sits in the thousands; decoded Opus
# silence is a few units at most. 300 (about -41 dBFS) is far from both.
LOUD_RMS = 300.0
# espeak-ng pauses up to ~0.25 s at a comma and ~0.4 s at a full stop; a gap of
# 0.6 s still splits two turns of the agent, which a response window separates.
UTTERANCE_GAP_S = 0.6


@dataclass(frozen=True)
class Frame:
    received_at: float
    """When the frame was received: the end of the audio it holds."""
    duration_s: float
    rms: float

    @property
    def start(self) -> float:
        return self.received_at - self.duration_s


@dataclass(frozen=True)
class Utterance:
    start: float
    end: float
    closed: bool = True
    """False while the recording ends less than a gap after it: it may go on."""

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def overlap_s(self, other: Utterance) -> float:
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian samples."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def utterances(
    frames: Sequence[Frame],
    *,
    loud_rms: float = LOUD_RMS,
    gap_s: float = UTTERANCE_GAP_S,
    now: float | None = None,
) -> list[Utterance]:
    """The utterances in ``frames`` (in order of reception).

    The last one is open (``closed=False``) if less than ``gap_s`` of the recording
    follows it; ``now`` (default: the last frame's time) is where the recording ends.
    """
    found: list[Utterance] = []
    start: float | None = None
    end = 0.0
    for frame in frames:
        if frame.rms < loud_rms:
            continue
        if start is not None and frame.start - end > gap_s:
            found.append(Utterance(start, end))
            start = None
        if start is None:
            start = frame.start
        end = frame.received_at
    if start is not None:
        until = now if now is not None else (frames[-1].received_at if frames else end)
        found.append(Utterance(start, end, closed=until - end > gap_s))
    return found


def frames_of(
    pcm: bytes, sample_rate: int, *, frame_ms: int = 10, start: float = 0.0
) -> list[Frame]:
    """``pcm`` (16-bit mono) cut into frames as if received back to back from ``start``."""
    samples = sample_rate * frame_ms // 1000
    step, duration = samples * 2, samples / sample_rate
    return [
        Frame(start + (n + 1) * duration, duration, rms(pcm[at : at + step]))
        for n, at in enumerate(range(0, len(pcm), step))
    ]


def speech_length_s(pcm: bytes, sample_rate: int) -> float:
    """From the first loud frame to the last: how long ``pcm`` sounds, pauses included."""
    found = utterances(frames_of(pcm, sample_rate), gap_s=float("inf"))
    return found[-1].end - found[0].start if found else 0.0


def overlap_s(a: Sequence[Utterance], b: Sequence[Utterance]) -> float:
    """Total time during which an utterance of ``a`` and one of ``b`` both sound."""
    return sum(x.overlap_s(y) for x in a for y in b)
