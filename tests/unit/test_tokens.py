"""Room-admin tokens are signed once per room and reused for a while, and LiveKit's own
verifier accepts them."""

from __future__ import annotations

import pytest
from livekit.api import TokenVerifier

from livecue._tokens import RoomTokens

KEY, SECRET = "lckey", "s" * 64


def _token(header: dict[str, str]) -> str:
    scheme, token = header["authorization"].split(" ")
    assert scheme == "Bearer"
    return token


def test_a_token_grants_room_admin_for_its_room_only() -> None:
    claims = TokenVerifier(KEY, SECRET).verify(_token(RoomTokens(KEY, SECRET).header("r1", 0.0)))
    assert claims.video is not None
    assert claims.video.room_admin and claims.video.room == "r1"
    assert not claims.video.room_join


def test_a_room_s_token_is_reused_until_reuse_s_has_passed() -> None:
    tokens = RoomTokens(KEY, SECRET, reuse_s=60.0)
    first = tokens.header("r1", 100.0)
    assert tokens.header("r1", 159.0) is first
    assert tokens.header("r1", 160.0) is not first


def test_each_room_has_its_own_token() -> None:
    tokens = RoomTokens(KEY, SECRET)
    assert tokens.header("r1", 0.0) != tokens.header("r2", 0.0)
    assert len(tokens) == 2


def test_a_clock_that_went_backwards_signs_anew() -> None:
    tokens = RoomTokens(KEY, SECRET)
    first = tokens.header("r1", 100.0)
    assert tokens.header("r1", 50.0) is not first


def test_the_oldest_rooms_are_forgotten_past_the_limit() -> None:
    tokens = RoomTokens(KEY, SECRET, max_rooms=2)
    kept = tokens.header("r1", 0.0)
    tokens.header("r2", 0.0)
    tokens.header("r1", 1.0)  # used again: the newest
    tokens.header("r3", 1.0)
    assert len(tokens) == 2
    assert tokens.header("r1", 2.0) is kept  # r2 went, not r1


@pytest.mark.parametrize("reuse_s", [0.0, -1.0, 10_000.0])
def test_reuse_must_stay_inside_the_token_s_validity(reuse_s: float) -> None:
    with pytest.raises(ValueError):
        RoomTokens(KEY, SECRET, reuse_s=reuse_s)
