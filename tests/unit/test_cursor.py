"""Cursors of GET /v1/cues: what the API gives comes back as it was; anything else is a
clear refusal (an InvalidRequest, a 422), never a 500 and never a silent first page."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import cast

import pytest

from livecue._errors import InvalidRequest
from livecue.gateway.views import decode_cursor, encode_cursor
from livecue.store import CueRecord


def cursor(at: float, cue_id: str) -> str:
    """The cursor the API gives after a cue made at ``at`` with id ``cue_id``."""
    return encode_cursor(cast(CueRecord, SimpleNamespace(created_at=at, id=cue_id)))


def forged(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("at", "cue_id"), [(1_900_000_000.123456, "c" * 32), (0.0, ""), (1.5, "会議-1")]
)
def test_a_cursor_the_api_gave_decodes_to_what_it_holds(at: float, cue_id: str) -> None:
    assert decode_cursor(cursor(at, cue_id)) == (at, cue_id)


@pytest.mark.parametrize(
    "raw",
    [
        "[" + "9" * 400 + ', "x"]',  # too large for a float
        '[NaN, "x"]',
        '[Infinity, "x"]',
        '[-Infinity, "x"]',
        '[1.5, "\\udcff"]',  # a lone surrogate: no database can hold it
        '[1.5, "' + "x" * 65 + '"]',  # longer than any cue id
        '[true, "x"]',
        '["1.5", "x"]',
        "[1.5]",
        "{}",
        "not json",
    ],
)
def test_a_forged_cursor_is_refused_by_name(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="cursor: not a cursor this API gave"):
        decode_cursor(forged(raw))


def test_a_cursor_that_is_not_base64_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        decode_cursor("!!!")
