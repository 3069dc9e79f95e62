"""`queue` picks its moment by sound: it never talks over the user, before or after a question.

The agent has no speech-to-text, so it answers every user turn with the scripted
model's "Sorry, I did not catch that." — a real agent's own reply to the user, which
the queued cue lets go first.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from harness.agent import RunningAgent
from harness.recorder import Recorder
from harness.speech_energy import Utterance, overlap_s
from harness.voice import timeline, user_clip, wait_for_note
from harness.voice_user import VoiceUser
from livecue import CueSender, new_cue

pytestmark = pytest.mark.voice

QUESTION = "Would you like a receipt for your donation today?"
ANSWER = "Yes please, send the receipt to my email address, the one you have on file."
CUE = "A new donation of fifty dollars has arrived."
ANSWER_DELAY_S = 0.5
"""The user answers this long after the question is heard."""
QUESTION_END_QUIET_S = 0.3
"""Silence that ends the question (espeak-ng's pauses between words are shorter)."""


async def _cue_speech(
    recorder: Recorder, log: list[tuple[float, str]], cue_id: str, *, gap_s: float = 0.6
) -> Utterance:
    """The agent's first utterance after it started acting on ``cue_id``."""
    started = await wait_for_note(log, f"cue {cue_id} started", timeout=20)
    return await recorder.wait_for_speech("agent", after=started, gap_s=gap_s)


def _describe(log: list[tuple[float, str]], recorder: Recorder, since: float) -> str:
    def rel(t: float) -> float:
        return round(t - since, 3)

    lines = [f"{rel(t):8.3f} {what}" for t, what in log]
    for who in ("agent", "user"):
        spans = [(rel(u.start), rel(u.end)) for u in recorder.utterances(who)]
        lines.append(f"{who} speech: {spans}")
    return "\n".join(lines)


async def test_a_queued_cue_waits_for_the_user_to_finish(
    agent: RunningAgent,
    user: VoiceUser,
    recorder: Recorder,
    sender: CueSender,
    room_name: str,
    clips_dir: Path,
) -> None:
    log = timeline(agent)
    began = time.monotonic()
    user.start_saying(user_clip(ANSWER, clips_dir))
    await wait_for_note(log, "user speaking")

    result = await sender.send(room_name, new_cue("say", CUE))

    assert result.outcome is not None and result.outcome.status == "queued"
    said = await _cue_speech(recorder, log, result.cue_id)
    (speech,) = [u for u in recorder.utterances("user") if u.start >= began]
    assert speech.closed, _describe(log, recorder, began)
    assert said.start > speech.end, _describe(log, recorder, began)
    assert overlap_s(recorder.utterances("agent"), [speech]) == 0, _describe(log, recorder, began)
    print(f"\nuser's speech ended → cue's speech began: {said.start - speech.end:.3f} s")


async def _ask_then_answer(
    agent: RunningAgent,
    user: VoiceUser,
    recorder: Recorder,
    sender: CueSender,
    room_name: str,
    clips_dir: Path,
) -> tuple[list[tuple[float, str]], str, Utterance, Utterance]:
    """The agent asks; a cue is queued while it asks; the user answers half a second after
    the question is heard. Returns the timeline, the cue's id, the question and the answer."""
    log = timeline(agent)
    answer_clip = user_clip(ANSWER, clips_dir)
    began = time.monotonic()
    await sender.send(room_name, new_cue("say", QUESTION))
    await recorder.wait_for_speech("agent", after=began)

    result = await sender.send(room_name, new_cue("say", CUE))
    assert result.outcome is not None and result.outcome.status == "queued"

    question = await recorder.wait_for_end("agent", after=began, quiet_s=QUESTION_END_QUIET_S)
    await asyncio.sleep(max(0.0, question.end + ANSWER_DELAY_S - time.monotonic()))
    await user.say(answer_clip)
    answer = await recorder.wait_for_end("user", after=question.end, quiet_s=0.6)
    return log, result.cue_id, question, answer


async def test_a_cue_queued_during_a_question_waits_for_the_answer(
    agent: RunningAgent,
    user: VoiceUser,
    recorder: Recorder,
    sender: CueSender,
    room_name: str,
    clips_dir: Path,
) -> None:
    log, cue_id, question, answer = await _ask_then_answer(
        agent, user, recorder, sender, room_name, clips_dir
    )

    said = await _cue_speech(recorder, log, cue_id)

    assert said.start > answer.end, _describe(log, recorder, question.start)
    assert overlap_s(recorder.utterances("agent"), [answer]) == 0
    print(
        f"\nquestion ended → answer began: {answer.start - question.end:.3f} s; "
        f"answer ended → cue's speech began: {said.start - answer.end:.3f} s"
    )


@pytest.mark.parametrize("agent_options", [{"response_window_s": 0}])
async def test_without_a_response_window_the_cue_talks_over_the_answer(
    agent: RunningAgent,
    user: VoiceUser,
    recorder: Recorder,
    sender: CueSender,
    room_name: str,
    clips_dir: Path,
) -> None:
    log, cue_id, question, answer = await _ask_then_answer(
        agent, user, recorder, sender, room_name, clips_dir
    )

    # the cue follows the question closely: tell them apart by a shorter pause
    started = await wait_for_note(log, f"cue {cue_id} started", timeout=20)
    said = await recorder.wait_for_speech("agent", after=started, gap_s=QUESTION_END_QUIET_S)

    # the first instant nobody talked was the wrong one: the agent chose to speak before
    # the answer began (when its voice is heard depends on the synthesizer's speed)
    assert started < answer.start, _describe(log, recorder, question.start)
    assert said.start < answer.end, _describe(log, recorder, question.start)
    assert overlap_s(recorder.utterances("agent"), [answer]) > 0
