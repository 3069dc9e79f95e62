"""The pure decision of when to act on a cue."""

from __future__ import annotations

import datetime as dt

import pytest

from livecue import Cue, Policy, new_cue
from livecue.agent import Activity, decide

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
IDLE = Activity(agent_state="listening", user_state="listening")
SPEAKING = Activity(agent_state="speaking", user_state="listening")
THINKING = Activity(agent_state="thinking", user_state="listening")
SPEECH_SCHEDULED = Activity(agent_state="listening", user_state="listening", speech_active=True)
USER_TALKING = Activity(agent_state="listening", user_state="speaking")


def cue(kind: str = "reply", policy: Policy = "queue") -> Cue:
    text = "text" if kind in ("reply", "say", "context") else None
    return new_cue(kind, text, policy=policy, now=NOW)


@pytest.mark.parametrize(
    ("policy", "activity", "queue_empty", "expected"),
    [
        ("queue", IDLE, True, "act"),
        ("queue", IDLE, False, "enqueue"),  # keeps arrival order behind waiting cues
        ("queue", SPEAKING, True, "enqueue"),
        ("queue", THINKING, True, "enqueue"),
        ("queue", SPEECH_SCHEDULED, True, "enqueue"),
        ("queue", USER_TALKING, True, "enqueue"),
        ("interrupt", IDLE, True, "act"),
        ("interrupt", SPEAKING, True, "interrupt_and_act"),
        ("interrupt", SPEECH_SCHEDULED, False, "interrupt_and_act"),
        ("interrupt", USER_TALKING, True, "act"),
        ("skip_if_busy", IDLE, True, "act"),
        ("skip_if_busy", SPEAKING, True, "skip"),
        ("skip_if_busy", USER_TALKING, True, "skip"),
    ],
)
def test_speaking_kinds_follow_their_policy(
    policy: Policy, activity: Activity, queue_empty: bool, expected: str
) -> None:
    for kind in ("reply", "say", "crm_update"):
        assert decide(cue(kind, policy), activity, queue_empty=queue_empty) == expected


@pytest.mark.parametrize("policy", ["queue", "interrupt", "skip_if_busy"])
@pytest.mark.parametrize("activity", [IDLE, SPEAKING, USER_TALKING])
def test_context_and_interrupt_act_at_once_whatever_the_policy(
    policy: Policy, activity: Activity
) -> None:
    assert decide(cue("context", policy), activity, queue_empty=False) == "act"
    assert decide(cue("interrupt", policy), activity, queue_empty=False) == "act"


def test_activity_reads_states() -> None:
    assert IDLE.idle and not IDLE.agent_busy
    assert SPEAKING.agent_busy and not SPEAKING.idle
    assert USER_TALKING.user_speaking and not USER_TALKING.agent_busy and not USER_TALKING.idle
    assert Activity(agent_state="initializing", user_state="away").idle
