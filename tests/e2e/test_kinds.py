"""Each cue kind makes a real agent do the right thing, seen from the room."""

from __future__ import annotations

import pytest

from harness.agent import RunningAgent
from harness.observer import Observer
from livecue import CueRefused, CueSender, new_cue

pytestmark = pytest.mark.e2e


async def test_reply_speaks_about_the_event_without_a_user_turn(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    result = await sender.send(
        room_name, new_cue("reply", "a donation of 100 dollars arrived"), wait=10
    )

    seg = await observer.wait_for_text("a donation of 100 dollars arrived")
    assert seg.text.startswith("Update:")
    # the final receipt: what the agent said, in its own words, and when
    outcome = result.outcome
    assert outcome is not None and outcome.status == "applied"
    assert outcome.said == seg.text.strip()
    assert outcome.speech_started_at is not None and outcome.speech_ended_at is not None
    # the event reached the model as instructions, never as something the user said
    request = agent.llm.requests[-1]
    roles = [m.role for m in request.messages() if "donation" in (m.text_content or "")]
    assert roles == ["system"]
    assert all(m.role != "user" for m in agent.session.history.messages())


async def test_say_speaks_the_text_verbatim(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    await sender.send(room_name, new_cue("say", "Your table is ready."))

    seg = await observer.wait_for_text("table")
    assert seg.text.strip() == "Your table is ready."
    assert agent.llm.requests == []  # said verbatim, no model involved


async def test_context_is_silent_now_and_known_to_the_next_reply(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    result = await sender.send(room_name, new_cue("context", "the caller's name is Ada"))
    assert result.outcome is not None and result.outcome.status == "applied"
    assert await observer.quiet_for(1.5) == []

    await sender.send(room_name, new_cue("reply", "ask how the caller is doing"))
    seg = await observer.wait_for_text("ask how the caller")
    assert "the caller's name is Ada" in seg.text


@pytest.mark.parametrize("agent_options", [{"word_delay_s": 0.1}])
async def test_interrupt_cue_stops_the_current_speech(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    long_event = " ".join(f"word{i}" for i in range(60))  # about 6 s of speech
    await sender.send(room_name, new_cue("reply", long_event))
    await observer.wait_until_saying("word3")

    result = await sender.send(room_name, new_cue("interrupt"))

    assert result.outcome is not None and result.outcome.status == "applied"
    segs = await observer.wait_for(lambda s: len(s) >= 1, timeout=5)
    assert "word59" not in segs[0].text  # cut before the end
    assert "word1" in segs[0].text


async def test_custom_kind_goes_to_its_handler(
    agent: RunningAgent, sender: CueSender, room_name: str
) -> None:
    seen: list[dict[str, object]] = []

    async def on_crm_update(cue: object) -> None:
        seen.append(cue.data)  # type: ignore[attr-defined]

    agent.cues.register("crm_update", on_crm_update)
    result = await sender.send(room_name, new_cue("crm_update", data={"stage": "won"}))

    assert result.outcome is not None and result.outcome.status == "applied"
    assert seen == [{"stage": "won"}]


async def test_unhandled_custom_kind_is_refused_with_a_reason(
    agent: RunningAgent, sender: CueSender, room_name: str
) -> None:
    with pytest.raises(CueRefused, match="no handler for kind 'mystery'"):
        await sender.send(room_name, new_cue("mystery"))
