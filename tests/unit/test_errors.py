"""The exception tree: shape, retryable flags, messages."""

from __future__ import annotations

import inspect

import pytest

import livecue
from livecue import (
    AgentNotListening,
    AuthenticationFailed,
    ConfigError,
    Conflict,
    CueDecodeError,
    CueError,
    CueRefused,
    CueTooLarge,
    DeliveryError,
    DeliveryTimeout,
    GatewayError,
    GatewayUnreachable,
    InvalidRequest,
    LivecueError,
    LiveKitUnreachable,
    NoAgentInRoom,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestError,
    RoomNotFound,
    ServiceUnavailable,
    SignatureError,
    Unauthorized,
    UsageError,
    WaitTimeout,
    _errors,
)
from livecue.gateway.schemas import CueStatus

# The tree as the module docstring draws it: class -> its one parent.
PARENT: dict[type[LivecueError], type[Exception]] = {
    LivecueError: Exception,
    ConfigError: LivecueError,
    UsageError: LivecueError,
    CueError: LivecueError,
    CueDecodeError: CueError,
    SignatureError: CueDecodeError,
    CueTooLarge: CueError,
    DeliveryError: LivecueError,
    RoomNotFound: DeliveryError,
    NoAgentInRoom: DeliveryError,
    AgentNotListening: DeliveryError,
    Unauthorized: DeliveryError,
    LiveKitUnreachable: DeliveryError,
    DeliveryTimeout: DeliveryError,
    WaitTimeout: DeliveryTimeout,
    CueRefused: DeliveryError,
    RequestError: LivecueError,
    InvalidRequest: RequestError,
    NotFound: RequestError,
    Conflict: RequestError,
    AuthenticationFailed: RequestError,
    PermissionDenied: RequestError,
    PayloadTooLarge: RequestError,
    RateLimited: RequestError,
    ServiceUnavailable: RequestError,
    GatewayUnreachable: ServiceUnavailable,
    GatewayError: RequestError,
}


def _held(cue_id: str = "c-1") -> CueStatus:
    """A cue's status as the gateway answers it, for a cue that waits for an agent."""
    now = "2026-12-02T10:00:00Z"
    return CueStatus.model_validate(
        {
            "id": cue_id,
            "room": "lobby",
            "transport": "rpc",
            "status": "held",
            "final": False,
            "outcome": None,
            "reason": "no agent in the room yet",
            "agent": None,
            "receipt": None,
            "attempts": 1,
            "created_at": now,
            "updated_at": now,
            "delivered_at": None,
            "expires_at": now,
            "source": "api",
            "cue": {},
            "history": [],
        }
    )


EXAMPLES: list[LivecueError] = [
    LivecueError("x"),
    ConfigError("LIVEKIT_URL not set"),
    UsageError("topic applies to the data transport only"),
    CueError("x"),
    CueDecodeError("payload is not UTF-8 JSON"),
    SignatureError("the cue's signature does not match"),
    CueTooLarge(20000, 15360),
    DeliveryError("x", room="r"),
    RoomNotFound("r"),
    NoAgentInRoom("r"),
    AgentNotListening("r", "agent-1"),
    Unauthorized(),
    LiveKitUnreachable("connection refused", room="r"),
    DeliveryTimeout("no answer in 5 s", room="r"),
    WaitTimeout("c-1", 2.5, _held()),
    CueRefused("unknown kind", room="r"),
    RequestError("x"),
    InvalidRequest("ttl_s: must be positive"),
    NotFound("no cue with id 'x'"),
    Conflict("the cue is at the agent already"),
    AuthenticationFailed("unknown or revoked API key"),
    PermissionDenied("this API key lacks the 'send' scope"),
    PayloadTooLarge("request body over 65536 bytes"),
    RateLimited("too many requests for this API key", 1.5),
    ServiceUnavailable("the database does not answer"),
    GatewayUnreachable("cannot reach the gateway at http://127.0.0.1:1"),
    GatewayError("the gateway answered 502 Bad Gateway", status=502),
]


def test_every_error_class_is_in_the_tree() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(_errors, inspect.isclass)
        if obj.__module__ == _errors.__name__
    }
    assert defined == set(PARENT)
    assert {type(e) for e in EXAMPLES} == set(PARENT)


@pytest.mark.parametrize(("cls", "parent"), PARENT.items(), ids=lambda c: c.__name__)
def test_parent(cls: type[LivecueError], parent: type[Exception]) -> None:
    # UsageError is also a ValueError, what Python code expects of a bad argument
    extra = (ValueError,) if cls is UsageError else ()
    assert cls.__bases__ == (parent, *extra)
    assert issubclass(cls, LivecueError)


def test_the_docstring_draws_every_class() -> None:
    doc = _errors.__doc__ or ""
    for cls in PARENT:
        assert cls.__name__ in doc


def test_every_error_is_exported() -> None:
    for cls in PARENT:
        assert getattr(livecue, cls.__name__) is cls
        assert cls.__name__ in livecue.__all__


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_retryable_only_when_trying_again_can_help(error: LivecueError) -> None:
    expected = isinstance(
        error,
        (LiveKitUnreachable, DeliveryTimeout, RateLimited, ServiceUnavailable, GatewayError),
    )
    assert error.retryable is expected
    assert type(error).retryable is expected


def test_signature_error_is_a_decode_error() -> None:
    assert issubclass(SignatureError, CueDecodeError)
    with pytest.raises(CueDecodeError):
        raise SignatureError("bad")


def test_cue_errors_and_delivery_errors_are_apart() -> None:
    for error in EXAMPLES:
        assert not (isinstance(error, CueError) and isinstance(error, DeliveryError))


def test_decode_error_keeps_its_reason() -> None:
    error = CueDecodeError("payload is not a JSON object")
    assert error.reason == "payload is not a JSON object"
    assert str(error) == "payload is not a JSON object"
    assert SignatureError("nope").reason == "nope"


def test_too_large_names_size_and_limit() -> None:
    error = CueTooLarge(20000, 15360)
    assert (error.size, error.limit) == (20000, 15360)
    assert "20000" in str(error) and "15360" in str(error)


def test_delivery_errors_name_the_room() -> None:
    assert RoomNotFound("lobby").room == "lobby"
    assert "lobby" in str(RoomNotFound("lobby"))
    assert DeliveryError("x").room is None
    assert DeliveryTimeout("slow", room="lobby").room == "lobby"


def test_no_agent_names_the_agent_when_given() -> None:
    error = NoAgentInRoom("lobby", "concierge")
    assert error.room == "lobby" and error.agent_name == "concierge"
    assert "concierge" in str(error) and "lobby" in str(error)
    assert NoAgentInRoom("lobby").agent_name is None


def test_unauthorized_detail() -> None:
    assert "bad key" in str(Unauthorized("bad key", room="r"))
    assert Unauthorized("bad key", room="r").room == "r"
    assert "(" not in str(Unauthorized())


def test_cue_refused_keeps_the_agents_reason() -> None:
    error = CueRefused("unknown kind 'x'", room="r")
    assert error.reason == "unknown kind 'x'"
    assert "unknown kind 'x'" in str(error)
    assert error.room == "r"


def test_request_errors_keep_the_answer_s_status_and_code() -> None:
    error = NotFound("no cue with id 'x'", status=404, code="not_found")
    assert (error.message, error.status, error.code) == ("no cue with id 'x'", 404, "not_found")
    assert str(error) == "no cue with id 'x'"
    assert (Conflict("x").status, Conflict("x").code) == (None, None)
    limited = RateLimited("slow down", 2.0, status=429, code="rate_limited")
    assert (limited.retry_after_s, limited.status, limited.code) == (2.0, 429, "rate_limited")


def test_wait_timeout_names_the_cue_and_its_last_state() -> None:
    error = WaitTimeout("c-1", 2.5, _held())
    assert str(error) == (
        "cue 'c-1' is not final after 2.5 s; its last state is held: no agent in the room yet"
    )
    assert (error.cue_id, error.timeout_s, error.room) == ("c-1", 2.5, "lobby")
    assert error.last.status == "held"
