"""The command line's gateway side, its pure parts: vocabularies and times."""

from __future__ import annotations

import argparse
import typing
from datetime import datetime, timedelta, timezone

import pytest

from livecue._cli_gateway import OUTCOMES, SOURCES, STATES, _moment
from livecue._cue import OutcomeStatus
from livecue.store import CueState, Source

NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=timezone.utc)


def test_the_choices_are_the_gateway_s_vocabularies() -> None:
    """Kept here so that --help imports neither the store nor pydantic; they must not drift."""
    assert set(STATES) == set(typing.get_args(CueState))
    assert set(OUTCOMES) == set(typing.get_args(OutcomeStatus))
    assert set(SOURCES) == set(typing.get_args(Source))


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1.5h", 5400), (" 10m ", 600)],
)
def test_a_time_ago(text: str, ago: float) -> None:
    assert _moment(text, now=NOW) == NOW - timedelta(seconds=ago)


def test_an_iso_time_keeps_its_offset_and_a_bare_one_is_local() -> None:
    assert _moment("2026-12-02T10:00:00Z") == NOW
    assert _moment("2026-12-02T11:00:00+01:00") == NOW
    bare = _moment("2026-12-02T10:00:00")
    assert bare.tzinfo is not None
    assert bare == datetime(2026, 12, 2, 10, 0, 0).astimezone()


@pytest.mark.parametrize("text", ["yesterday", "10 minutes", "5w", "2026-13-01T00:00:00Z", ""])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="2026-12-02T10:00:00Z"):
        _moment(text)
