"""attach()'s options are checked when it is called, before anything listens."""

from __future__ import annotations

import math

import pytest
from livekit import rtc
from livekit.agents import AgentSession

from livecue import UsageError
from livecue.agent import attach


@pytest.mark.parametrize("window_s", [-1.0, math.nan, math.inf])
async def test_a_response_window_that_is_not_a_duration_is_refused(window_s: float) -> None:
    with pytest.raises(UsageError, match="response_window_s: must be a finite number"):
        attach(AgentSession(), rtc.Room(), secret="s" * 32, response_window_s=window_s)
