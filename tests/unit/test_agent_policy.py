"""The pure decision of when to act on a cue."""

from __future__ import annotations

import datetime as dt

import pytest

from livecue import Cue, Policy, new_cue
from livecue.agent import Activity, decide, response_wait
from livecue.agent.policy import AGENT_REPLY_START_S

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


# -- the response window of `queue` -----------------------------------------------------

WINDOW = 1.0


def test_nothing_said_yet_means_no_window() -> None:
    assert response_wait(5.0, agent_stopped_at=None, user_stopped_at=None, window_s=WINDOW) == 0


def test_after_the_agent_stops_the_user_gets_the_window() -> None:
    wait = response_wait(10.25, agent_stopped_at=10.0, user_stopped_at=None, window_s=WINDOW)
    assert wait == pytest.approx(0.75)
    assert response_wait(11.0, agent_stopped_at=10.0, user_stopped_at=None, window_s=WINDOW) == 0


def test_after_the_user_answers_the_agent_s_own_answer_is_awaited_too() -> None:
    # the agent stopped at 10, the user answered and stopped at 12.5: the agent's answer
    # to them may take AGENT_REPLY_START_S to begin, then the window
    wait = response_wait(12.9, agent_stopped_at=10.0, user_stopped_at=12.5, window_s=WINDOW)
    assert wait == pytest.approx(12.5 + WINDOW + AGENT_REPLY_START_S - 12.9)
    # once the agent has answered (and stopped at 14), the window counts from its answer
    answered = response_wait(14.2, agent_stopped_at=14.0, user_stopped_at=12.5, window_s=WINDOW)
    assert answered == pytest.approx(0.8)


def test_whoever_stopped_last_counts() -> None:
    wait = response_wait(20.2, agent_stopped_at=20.0, user_stopped_at=3.0, window_s=WINDOW)
    assert wait == pytest.approx(0.8)


@pytest.mark.parametrize("window_s", [0.0, -1.0])
def test_a_window_of_zero_is_off(window_s: float) -> None:
    assert response_wait(10.0, agent_stopped_at=10.0, user_stopped_at=9.0, window_s=window_s) == 0


WINDOW_OPEN = Activity(agent_state="listening", user_state="listening", response_wait_s=0.4)


def test_queue_waits_while_the_window_is_open() -> None:
    assert WINDOW_OPEN.idle and not WINDOW_OPEN.ready
    assert IDLE.ready
    for kind in ("reply", "say", "crm_update"):
        assert decide(cue(kind, "queue"), WINDOW_OPEN, queue_empty=True) == "enqueue"


def test_skip_if_busy_and_interrupt_ignore_the_window() -> None:
    assert decide(cue("say", "skip_if_busy"), WINDOW_OPEN, queue_empty=True) == "act"
    assert decide(cue("say", "interrupt"), WINDOW_OPEN, queue_empty=True) == "act"
    assert decide(cue("context", "queue"), WINDOW_OPEN, queue_empty=True) == "act"
