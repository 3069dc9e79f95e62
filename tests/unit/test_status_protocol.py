"""The livecue.status call: signed requests bound to a room, answers that fit the RPC limit."""

from __future__ import annotations

import json

import pytest

from livecue import CueDecodeError, Outcome, SignatureError, SigningKey
from livecue import _status as status
from livecue._cue import MAX_CUE_BYTES, MAX_SAID_CHARS

KEY = SigningKey.from_livekit("APIk", "a-secret")


def test_a_request_round_trips_and_is_bound_to_its_room() -> None:
    request = status.StatusRequest(known={"a": "queued", "b": ""}, wait_ms=1500)
    raw = status.encode_request(request, secret=KEY, room="room-1")
    assert status.decode_request(raw, secret=KEY, room="room-1") == request
    with pytest.raises(CueDecodeError, match="for room 'room-1'"):
        status.decode_request(raw, secret=KEY, room="room-2")


def test_a_request_signed_with_another_key_or_altered_is_refused() -> None:
    raw = status.encode_request(status.StatusRequest(known={"a": ""}), secret=KEY, room="r")
    other = SigningKey.from_livekit("APIother", "b-secret")
    with pytest.raises(SignatureError, match="'APIother'"):
        status.decode_request(raw, secret=other, room="r")
    payload = json.loads(raw)
    payload["wait_ms"] = 20_000
    with pytest.raises(SignatureError, match="does not match"):
        status.decode_request(json.dumps(payload), secret=KEY, room="r")
    del payload["sig"]
    with pytest.raises(SignatureError, match="not signed"):
        status.decode_request(json.dumps(payload), secret=KEY, room="r")


@pytest.mark.parametrize(
    "raw",
    ["", "[]", "{", '{"v": 2}', "null", '"x"', "[" * 5000 + "]" * 5000],
)
def test_malformed_requests_are_decode_errors(raw: str) -> None:
    with pytest.raises(CueDecodeError):
        status.decode_request(raw, secret=KEY, room="r")


def test_wait_and_size_limits_are_checked_after_the_signature() -> None:
    too_long = status.StatusRequest(known={"a": ""}, wait_ms=status.MAX_WAIT_MS + 1)
    raw = status.encode_request(too_long, secret=KEY, room="r")
    with pytest.raises(CueDecodeError, match="wait_ms"):
        status.decode_request(raw, secret=KEY, room="r")
    with pytest.raises(ValueError, match="at most"):
        many = {str(i): "" for i in range(status.MAX_IDS + 1)}
        status.encode_request(status.StatusRequest(known=many), secret=KEY, room="r")


def test_changes_lists_what_differs_and_what_is_unknown() -> None:
    current = {
        "same": Outcome(cue_id="same", status="queued"),
        "moved": Outcome(cue_id="moved", status="applied", said="Hi"),
    }
    answer = status.changes({"same": "queued", "moved": "started", "gone": ""}, current)
    assert [o.cue_id for o in answer.outcomes] == ["moved"]
    assert answer.unknown == ("gone",)


def test_an_answer_round_trips() -> None:
    answer = status.StatusAnswer(
        outcomes=(Outcome(cue_id="a", status="coalesced", merged_into="b", said="Hello"),),
        unknown=("c",),
    )
    assert status.decode_answer(status.encode_answer(answer)) == answer


def test_an_answer_too_large_for_one_rpc_leaves_outcomes_for_the_next_call() -> None:
    said = "x" * (MAX_SAID_CHARS + 500)  # each receipt is cut to the limit
    outcomes = tuple(Outcome(cue_id=f"cue-{i}", status="applied", said=said) for i in range(20))
    raw = status.encode_answer(status.StatusAnswer(outcomes=outcomes))
    assert len(raw.encode()) <= MAX_CUE_BYTES
    decoded = status.decode_answer(raw)
    assert 0 < len(decoded.outcomes) < 20
    assert all(len(o.said or "") == MAX_SAID_CHARS for o in decoded.outcomes)
    assert [o.cue_id for o in decoded.outcomes] == [
        f"cue-{i}" for i in range(len(decoded.outcomes))
    ]


@pytest.mark.parametrize(
    "raw",
    ["", "{}x", "[]", '{"outcomes": {}}', '{"unknown": [1]}', '{"outcomes": [{"cue_id": 1}]}'],
)
def test_malformed_answers_are_decode_errors(raw: str) -> None:
    with pytest.raises(CueDecodeError):
        status.decode_answer(raw)
