"""`interrupt`, `skip_if_busy`, uninterruptible speech and bursts, judged from the recording."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from harness.agent import RunningAgent
from harness.recorder import Recorder
from harness.speech_energy import Utterance, overlap_s
from harness.voice import (
    LONG_SPEECH,
    agent_speech_length_s,
    long_speech_under_way,
    until,
    user_clip,
)
from harness.voice_user import VoiceUser
from livecue import CueSender, new_cue

pytestmark = pytest.mark.voice

BARGE_IN = "Wait, wait, I have a question about my donation receipt please."
# A recording of whole speech may differ from the synthesized audio by the jitter
# buffer's stretching and the edges of the energy threshold: a few tens of ms.
WHOLE_TOLERANCE_S = 0.3


def _first_after(utterances: list[Utterance], at: float) -> Utterance:
    return next(u for u in utterances if u.start >= at)


async def test_an_interrupt_cue_stops_the_audio(
    agent: RunningAgent, recorder: Recorder, sender: CueSender, room_name: str
) -> None:
    long_id, began = await long_speech_under_way(sender, recorder, room_name, heard_s=1.5)

    sent = time.monotonic()
    result = await sender.send(room_name, new_cue("interrupt"))

    assert result.outcome is not None and result.outcome.status == "applied"
    heard = await recorder.wait_for_end("agent", after=began, quiet_s=1.0)
    assert heard.end > sent - 0.5  # it was still speaking when the cue was sent ...
    assert heard.duration_s < agent_speech_length_s(LONG_SPEECH) - 2.0  # ... and was cut off
    await until(lambda: len(agent.outcomes(long_id)) == 2, "the long speech's final receipt")
    assert agent.outcomes(long_id) == ["started", "interrupted"]
    print(f"\ninterrupt sent → agent's audio stopped: {heard.end - sent:.3f} s")


async def test_skip_if_busy_stays_quiet_while_the_agent_speaks(
    agent: RunningAgent, recorder: Recorder, sender: CueSender, room_name: str
) -> None:
    _, began = await long_speech_under_way(sender, recorder, room_name, heard_s=0.5)

    result = await sender.send(room_name, new_cue("say", "Skip me.", policy="skip_if_busy"))

    assert result.outcome is not None and result.outcome.status == "skipped"
    heard = await recorder.wait_for_end("agent", after=began, quiet_s=2.0)
    assert abs(heard.duration_s - agent_speech_length_s(LONG_SPEECH)) < WHOLE_TOLERANCE_S
    assert [u for u in recorder.utterances("agent") if u.start >= began] == [heard]


@pytest.mark.parametrize(
    ("allow_interruptions", "plays_whole"), [(False, True), (True, False)], ids=["say", "control"]
)
async def test_uninterruptible_speech_plays_to_its_end_over_a_barge_in(
    agent: RunningAgent,
    user: VoiceUser,
    recorder: Recorder,
    sender: CueSender,
    room_name: str,
    clips_dir: Path,
    allow_interruptions: bool,
    plays_whole: bool,
) -> None:
    _, began = await long_speech_under_way(
        sender, recorder, room_name, heard_s=1.0, allow_interruptions=allow_interruptions
    )

    await user.say(user_clip(BARGE_IN, clips_dir))

    heard = await recorder.wait_for_end("agent", after=began, quiet_s=1.0)
    barge_in = _first_after(recorder.utterances("user"), began)
    assert overlap_s([heard], [barge_in]) > 0.5  # the user really talked over it
    whole = abs(heard.duration_s - agent_speech_length_s(LONG_SPEECH)) < WHOLE_TOLERANCE_S
    assert whole is plays_whole, (heard, agent_speech_length_s(LONG_SPEECH))


async def test_twenty_replies_in_a_second_become_at_most_two_whole_turns(
    agent: RunningAgent, recorder: Recorder, sender: CueSender, room_name: str
) -> None:
    long_id, began = await long_speech_under_way(sender, recorder, room_name, heard_s=0.5)

    burst_began = time.monotonic()
    results = await asyncio.gather(
        *(sender.send(room_name, new_cue("reply", str(n)), transport="data") for n in range(20))
    )
    assert time.monotonic() - burst_began < 1.0
    assert all(r.ok for r in results)

    ids = [r.cue_id for r in results]

    def final(cue_id: str) -> bool:
        outcome = agent.cues.outcome(cue_id)
        return outcome is not None and outcome.final

    await until(lambda: all(final(i) for i in [long_id, *ids]), "every cue's final receipt", 30)
    # every reply has been acted on; once the agent has been quiet a while, nothing follows
    await recorder.wait_for(
        "agent",
        lambda us: len(us) > 1 and us[-1].closed and time.monotonic() - us[-1].end > 2.0,
        timeout=30,
    )
    turns = [u for u in recorder.utterances("agent") if u.start >= began]
    assert 2 <= len(turns) <= 3, turns  # the long speech, then at most two more

    # no speech was cut off: none marked interrupted, each as long as its text spoken whole
    statuses = [s for cue_id in [long_id, *ids] for s in agent.outcomes(cue_id)]
    assert "interrupted" not in statuses
    assert statuses.count("applied") + statuses.count("coalesced") == 21
    spoken = [m for m in agent.session.history.messages() if m.role == "assistant"]
    assert len(spoken) == len(turns)
    for message, turn in zip(spoken, turns, strict=True):
        assert not message.interrupted
        expected = agent_speech_length_s(message.text_content or "")
        assert abs(turn.duration_s - expected) < WHOLE_TOLERANCE_S, (message.text_content, turn)
