"""A cue's final receipt agrees with the recording: what it says was said, and when.

The receipt's times are the agent's: its speech started when the first audio left it
and ended when the last did. The recording hears the speech itself, later by the
trip through the server (tens of milliseconds), and without the silence espeak-ng
puts around it, which is known from the synthesized audio. The texts begin with voiced
sounds: a soft first consonant (the unvoiced "th" of "Thank") falls under the energy
threshold once through the codec, and the recording would seem to start late.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from harness.agent import RunningAgent
from harness.recorder import Recorder
from harness.voice import (
    LONG_SPEECH,
    agent_speech_edges_s,
    agent_speech_length_s,
    long_speech_under_way,
    until,
)
from livecue import CueSender, Outcome, new_cue

pytestmark = pytest.mark.voice

SAY = "Your donation of fifty dollars has been received, thank you."
RECEIPT_BOUND_S = 0.25
"""How far the receipt's times may be from the recording's (see the module's docstring);
the voice benchmark measures the trip at 30 to 160 ms (interrupt_stop)."""


def _monotonic(at: datetime | None) -> float:
    """A receipt's wall-clock time on the recorder's clock (both run in this process)."""
    assert at is not None
    return at.timestamp() - (time.time() - time.monotonic())


async def _final(agent: RunningAgent, cue_id: str) -> Outcome:
    def final() -> bool:
        outcome = agent.cues.outcome(cue_id)
        return outcome is not None and outcome.final

    await until(final, f"cue {cue_id}'s final receipt", timeout=30)
    outcome = agent.cues.outcome(cue_id)
    assert outcome is not None
    return outcome


async def test_a_whole_speech_s_receipt_matches_the_recording(
    agent: RunningAgent, recorder: Recorder, sender: CueSender, room_name: str
) -> None:
    began = time.monotonic()
    result = await sender.send(room_name, new_cue("say", SAY))
    heard = await recorder.wait_for_end("agent", after=began, quiet_s=1.0)
    receipt = await _final(agent, result.cue_id)

    assert receipt.status == "applied"
    assert receipt.said == SAY
    assert abs(heard.duration_s - agent_speech_length_s(SAY)) < 0.3  # heard whole
    leading, trailing = agent_speech_edges_s(SAY)
    started = _monotonic(receipt.speech_started_at) + leading
    ended = _monotonic(receipt.speech_ended_at) - trailing
    print(f"\nrecording - receipt: {heard.start - started:+.3f} s, {heard.end - ended:+.3f} s")
    assert abs(heard.start - started) < RECEIPT_BOUND_S
    assert abs(heard.end - ended) < RECEIPT_BOUND_S


async def test_a_cut_speech_s_receipt_says_how_far_it_got(
    agent: RunningAgent, recorder: Recorder, sender: CueSender, room_name: str
) -> None:
    long_id, began = await long_speech_under_way(sender, recorder, room_name, heard_s=2.5)
    await sender.send(room_name, new_cue("interrupt"))
    heard = await recorder.wait_for_end("agent", after=began, quiet_s=1.0)
    receipt = await _final(agent, long_id)

    assert receipt.status == "interrupted"
    words, said = LONG_SPEECH.split(), (receipt.said or "").split()
    assert 0 < len(said) < len(words) and words[: len(said)] == said  # a true beginning
    # as much of the text as of the sound: the words were timed against the audio
    heard_share = heard.duration_s / agent_speech_length_s(LONG_SPEECH)
    print(f"\nshare of the words said {len(said) / len(words):.2f}, of the sound {heard_share:.2f}")
    assert abs(len(said) / len(words) - heard_share) < 0.2
    leading, _ = agent_speech_edges_s(LONG_SPEECH)
    started = _monotonic(receipt.speech_started_at) + leading
    ended = _monotonic(receipt.speech_ended_at)  # cut: no trailing silence
    print(f"recording - receipt: {heard.start - started:+.3f} s, {heard.end - ended:+.3f} s")
    assert abs(heard.start - started) < RECEIPT_BOUND_S
    assert abs(heard.end - ended) < RECEIPT_BOUND_S
