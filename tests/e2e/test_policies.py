"""Policies while the agent is speaking, bursts, and duplicates — against a real agent."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from harness.agent import RunningAgent
from harness.observer import Observer
from livecue import CueSender, Outcome, new_cue

pytestmark = pytest.mark.e2e

SLOW = {"word_delay_s": 0.1}
LONG_EVENT = " ".join(f"word{i}" for i in range(40))  # about 4 s of streamed speech


async def _start_long_speech(sender: CueSender, room: str, observer: Observer) -> str:
    result = await sender.send(room, new_cue("reply", LONG_EVENT))
    assert result.outcome is not None and result.outcome.status == "started"
    await observer.wait_until_saying("word2")
    return result.cue_id


async def _final(agent: RunningAgent, cue_id: str, timeout: float = 10.0) -> Outcome:
    """The agent's final outcome for ``cue_id``, once it has one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = agent.cues.outcome(cue_id)
        if outcome is not None and outcome.final:
            return outcome
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no final outcome for {cue_id}: {outcome}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("agent_options", [SLOW])
async def test_interrupt_policy_cuts_the_speech_and_acts_now(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    long_id = await _start_long_speech(sender, room_name, observer)

    result = await sender.send(room_name, new_cue("say", "Stop, urgent news.", policy="interrupt"))

    assert result.outcome is not None and result.outcome.status == "started"
    segs = await observer.wait_for(lambda s: any("urgent" in x.text for x in s), timeout=5)
    long_seg, urgent = segs[0], next(s for s in segs if "urgent" in s.text)
    assert "word39" not in long_seg.text  # the long speech was cut
    assert urgent.started >= long_seg.started
    # the receipts say so: the cut cue with what it got to say, the urgent one in full
    cut = await _final(agent, long_id)
    assert cut.status == "interrupted" and cut.said is not None
    assert "word2" in cut.said and "word39" not in cut.said
    done = await _final(agent, result.cue_id)
    assert done.status == "applied" and done.said == "Stop, urgent news."


@pytest.mark.parametrize("agent_options", [SLOW])
async def test_queue_policy_waits_for_the_end_of_the_speech(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    await _start_long_speech(sender, room_name, observer)

    result = await sender.send(room_name, new_cue("say", "And one more thing.", policy="queue"))

    assert result.outcome is not None and result.outcome.status == "queued"
    segs = await observer.wait_for(lambda s: any("one more" in x.text for x in s), timeout=10)
    long_seg, queued = segs[0], next(s for s in segs if "one more" in s.text)
    assert "word39" in long_seg.text  # not cut: the whole speech was heard
    # Two text streams: the observer may see the second open a moment before it finishes
    # reading the first, so allow 50 ms. Cutting in would start it seconds earlier.
    assert long_seg.ended is not None and queued.started >= long_seg.ended - 0.05
    final = await _final(agent, result.cue_id)
    assert agent.outcomes(result.cue_id) == ["started", "applied"]
    assert final.said == "And one more thing."
    assert final.speech_started_at is not None and final.speech_ended_at is not None
    assert final.speech_started_at <= final.speech_ended_at


@pytest.mark.parametrize("agent_options", [SLOW])
async def test_skip_if_busy_skips_while_speaking(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    await _start_long_speech(sender, room_name, observer)

    result = await sender.send(room_name, new_cue("say", "Skip me.", policy="skip_if_busy"))

    assert result.outcome is not None and result.outcome.status == "skipped"
    await observer.wait_for_text("word39", timeout=10)
    assert "Skip me." not in " ".join(await observer.quiet_for(1.0) + observer.texts())


@pytest.mark.parametrize("agent_options", [SLOW])
async def test_twenty_replies_in_a_second_become_at_most_two_turns(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    events = [f"event-{n:02d}" for n in range(20)]
    results = await asyncio.gather(
        *(sender.send(room_name, new_cue("reply", e), transport="data") for e in events)
    )
    assert all(r.ok for r in results)

    segs = await observer.wait_for(
        lambda s: all(any(e in x.text for x in s) for e in events), timeout=20
    )
    await observer.quiet_for(1.0)  # no further turn follows
    assert len(observer.finished()) <= 2, observer.texts()
    assert len(agent.llm.requests) <= 2
    spoken = " ".join(s.text for s in segs)
    assert all(e in spoken for e in events)
    finals = Counter(e.outcome.status for e in agent.events if e.type == "cue_applied")
    assert finals["applied"] + finals["coalesced"] == 20


async def test_same_cue_id_three_times_is_acted_on_once(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    cue = new_cue("say", "Exactly once.")

    answers = [await sender.send(room_name, cue) for _ in range(3)]

    # a copy is answered with the first arrival's outcome so far, never a second act
    first, *copies = [a.outcome.status for a in answers if a.outcome]
    assert first == "started" and len(copies) == 2
    assert set(copies) <= {"started", "applied"}
    await observer.wait_for_text("Exactly once.")
    await observer.quiet_for(1.0)
    assert observer.texts().count("Exactly once.") == 1
    await _final(agent, cue.id)
    assert Counter(agent.outcomes(cue.id)) == {"started": 1, "duplicate": 2, "applied": 1}


async def test_same_cue_id_over_data_is_acted_on_once(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    cue = new_cue("say", "Once over data.")
    for _ in range(3):
        await sender.send(room_name, cue, transport="data")

    await observer.wait_for_text("Once over data.")
    await observer.quiet_for(1.0)
    assert observer.texts().count("Once over data.") == 1
    await _final(agent, cue.id)
    assert Counter(agent.outcomes(cue.id)) == {"started": 1, "duplicate": 2, "applied": 1}
