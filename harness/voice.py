"""Pieces of a voice session for tests, benchmarks and the demo: one VAD, spoken clips,
and waiting until the agent hears its user."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from livekit import rtc
from livekit.agents.vad import VAD

from espeak_tts import Speech, synthesize
from harness.agent import RunningAgent
from harness.recorder import Recorder
from harness.speech_energy import frames_of, speech_length_s, utterances
from livecue import CueSender, new_cue

USER_VOICE = "en-us+f3"  # a voice unlike the agent's, for a person listening to a recording

LONG_SPEECH = (
    "The spring campaign closed with twelve hundred supporters, thirty eight new monthly "
    "donors, three matched gifts from local businesses, and a record total for the shelter."
)
"""About nine seconds of the agent's voice, in one sentence (one synthesis)."""


@functools.cache
def shared_vad() -> VAD:
    """The silero VAD, loaded once per process (its model ships inside the plugin)."""
    from livekit.plugins import silero

    return silero.VAD.load()


def user_clip(text: str, directory: Path) -> Speech:
    """``text`` in the user's voice, written once as a WAV in ``directory`` and read back."""
    path = directory / f"user-{hashlib.sha1(text.encode()).hexdigest()[:12]}.wav"
    if not path.exists():
        synthesize(text, voice=USER_VOICE).write_wav(path)
    return Speech.read_wav(path)


@functools.cache
def agent_speech_length_s(text: str) -> float:
    """How long the agent's offline voice sounds saying ``text`` in one piece."""
    speech = synthesize(text)
    return speech_length_s(speech.pcm, speech.sample_rate)


@functools.cache
def agent_speech_edges_s(text: str) -> tuple[float, float]:
    """The silence espeak-ng puts before and after ``text``: (leading, trailing) seconds."""
    speech = synthesize(text)
    found = utterances(frames_of(speech.pcm, speech.sample_rate), gap_s=float("inf"))
    if not found:
        return 0.0, speech.duration_s
    return found[0].start, speech.duration_s - found[-1].end


async def wait_until_hearing(
    agent: RunningAgent, user_identity: str = "user", timeout: float = 10.0
) -> None:
    """Until the agent has subscribed to its user's microphone, so it hears what follows."""
    deadline = time.monotonic() + timeout
    while True:
        user = agent.room.remote_participants.get(user_identity)
        if user is not None and any(
            pub.kind == rtc.TrackKind.KIND_AUDIO and pub.subscribed and pub.track is not None
            for pub in user.track_publications.values()
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the agent never subscribed to {user_identity}'s microphone")
        await asyncio.sleep(0.05)


def timeline(agent: RunningAgent) -> list[tuple[float, str]]:
    """A log of the session's state changes, speeches and cue outcomes, with monotonic times
    (printed by a failing voice test, and read by the voice benchmark)."""
    log: list[tuple[float, str]] = []

    def note(what: str) -> None:
        log.append((time.monotonic(), what))

    session = agent.session
    session.on("agent_state_changed", lambda e: note(f"agent {e.new_state}"))
    session.on("user_state_changed", lambda e: note(f"user {e.new_state}"))
    session.on(
        "speech_created",
        lambda e: e.speech_handle.add_done_callback(lambda h: note(f"speech {h.id} done")),
    )
    agent.cues.on("cue_started", lambda e: note(f"cue {e.outcome.cue_id} {e.outcome.status}"))
    agent.cues.on("cue_applied", lambda e: note(f"cue {e.outcome.cue_id} {e.outcome.status}"))
    agent.cues.on("cue_dropped", lambda e: note(f"cue {e.outcome.cue_id} {e.outcome.status}"))
    return log


async def until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until ``predicate()`` holds; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_note(log: list[tuple[float, str]], what: str, timeout: float = 15.0) -> float:
    """When ``what`` was first noted in a :func:`timeline` (waiting for it if need be)."""
    deadline = time.monotonic() + timeout
    while True:
        for at, note in log:
            if note == what:
                return at
        if time.monotonic() > deadline:
            raise TimeoutError(f"never noted {what!r}: {log}")
        await asyncio.sleep(0.02)


async def long_speech_under_way(
    sender: CueSender,
    recorder: Recorder,
    room: str,
    *,
    heard_s: float,
    text: str = LONG_SPEECH,
    **cue_options: object,
) -> tuple[str, float]:
    """Have the agent say ``text``; return its cue id and the time it was sent, once
    ``heard_s`` of it has been recorded."""
    began = time.monotonic()
    result = await sender.send(room, new_cue("say", text, **cue_options))  # type: ignore[arg-type]
    if result.outcome is None or result.outcome.status not in ("started", "queued"):
        raise RuntimeError(f"the agent did not take the speech: {result.outcome}")
    await recorder.wait_for(
        "agent", lambda us: any(u.start >= began and u.duration_s >= heard_s for u in us)
    )
    return result.cue_id, began
