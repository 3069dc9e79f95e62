"""The gateway client's pure parts: settings, paths for odd room names, query parameters,
errors from a status and a body, Retry-After, and the polling schedule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import httpx
import pytest

from livecue import (
    AuthenticationFailed,
    ConfigError,
    Conflict,
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestError,
    ServiceUnavailable,
    UsageError,
)
from livecue._client_core import (
    DEFAULT_RETRY_AFTER_S,
    cue_path,
    error_for,
    gateway_settings,
    list_params,
    poll_delay,
    retry_after_seconds,
    room_cues_path,
    segment,
    unreachable,
)

NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=timezone.utc)


def body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


# -- settings ---------------------------------------------------------------------------


def test_settings_come_from_the_arguments_before_the_environment() -> None:
    env = {"LIVECUE_GATEWAY_URL": "http://env:8080/", "LIVECUE_API_KEY": "lck_env"}
    assert gateway_settings(None, None, env) == ("http://env:8080", "lck_env")
    assert gateway_settings("https://gw.example/livecue/", "lck_arg", env) == (
        "https://gw.example/livecue",
        "lck_arg",
    )


@pytest.mark.parametrize(
    ("url", "key", "names"),
    [
        (None, "k", "LIVECUE_GATEWAY_URL"),
        ("http://h:1", None, "LIVECUE_API_KEY"),
        ("", "k", "LIVECUE_GATEWAY_URL"),
        ("http://h:1", "", "LIVECUE_API_KEY"),
    ],
)
def test_a_missing_setting_names_its_variable(url: str | None, key: str | None, names: str) -> None:
    env = {"LIVECUE_GATEWAY_URL": url, "LIVECUE_API_KEY": key}
    with pytest.raises(ConfigError, match=names):
        gateway_settings(None, None, env)


@pytest.mark.parametrize(
    "url", ["localhost:8080", "ftp://h/", "http://", "http://h:port", "http://h/?x=1"]
)
def test_a_url_that_is_not_a_gateway_base_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="LIVECUE_GATEWAY_URL"):
        gateway_settings(None, "k", {"LIVECUE_GATEWAY_URL": url})
    with pytest.raises(ConfigError, match="the gateway URL"):
        gateway_settings(url, "k", {})


# -- paths ----------------------------------------------------------------------------------

ODD_ROOMS = [
    "room-1",
    "support/line 2",
    "..",
    ".",
    "...",
    "a/../b",
    "ünïcødé 会议室",
    "100%",
    "%2F",
    "q?x=1#frag",
    " leading and trailing ",
    "+plus&amp;",
]


@pytest.mark.parametrize("room", ODD_ROOMS)
def test_a_room_is_one_path_segment_that_decodes_to_itself(room: str) -> None:
    path = room_cues_path(room)
    assert path.startswith("/v1/rooms/") and path.endswith("/cues")
    encoded = path[len("/v1/rooms/") : -len("/cues")]
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert encoded not in (".", "..")
    assert unquote(encoded) == room


@pytest.mark.parametrize("room", ODD_ROOMS)
@pytest.mark.parametrize("base", ["http://gw:8080", "http://gw:8080/prefix"])
def test_httpx_sends_the_path_as_built(room: str, base: str) -> None:
    """httpx removes dot segments and may re-encode: the path on the wire must still be
    the room's (what the server percent-decodes)."""
    request = httpx.Client(base_url=base).build_request("POST", room_cues_path(room))
    raw = request.url.raw_path.decode()
    prefix = httpx.URL(base).raw_path.decode().rstrip("/")
    assert raw == prefix + room_cues_path(room)
    assert unquote(raw[len(prefix) + len("/v1/rooms/") : -len("/cues")]) == room


def test_cue_paths() -> None:
    assert cue_path("c_1") == "/v1/cues/c_1"
    assert cue_path("c_1", "resend") == "/v1/cues/c_1/resend"
    assert cue_path("evt:2026.12-02") == "/v1/cues/evt%3A2026.12-02"
    assert cue_path("..") == "/v1/cues/%2E%2E"
    assert segment("..") == "%2E%2E"
    with pytest.raises(UsageError, match="cannot be empty"):
        cue_path("")
    for not_an_id in ("a/b", "../keys", "x" * 65, "cue 1", "<script>"):
        with pytest.raises(UsageError, match="not a cue id"):
            cue_path(not_an_id)


# -- query parameters ---------------------------------------------------------------------


def test_list_parameters_are_the_filters_that_are_set() -> None:
    after = datetime(2026, 12, 2, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    params = list_params(
        room="a/b", state="held", source="hook", hook="donations", created_after=after, limit=7
    )
    assert params == {
        "room": "a/b",
        "state": "held",
        "source": "hook",
        "hook": "donations",
        "created_after": "2026-12-02T10:00:00+00:00",
        "limit": "7",
    }
    assert list_params() == {}


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(UsageError, match="created_before needs a time zone"):
        list_params(created_before=datetime(2026, 12, 2, 10, 0))


@pytest.mark.parametrize("limit", [0, 501, -1])
def test_a_page_size_out_of_range_is_refused(limit: int) -> None:
    with pytest.raises(UsageError, match="1 to 500"):
        list_params(limit=limit)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_json", InvalidRequest),
        (401, "unauthenticated", AuthenticationFailed),
        (403, "forbidden", PermissionDenied),
        (404, "not_found", NotFound),
        (409, "conflict", Conflict),
        (413, "payload_too_large", PayloadTooLarge),
        (422, "invalid_request", InvalidRequest),
        (503, "unavailable", ServiceUnavailable),
        (500, "internal_error", GatewayError),
        (502, "bad_gateway", GatewayError),
        (405, "http_error", RequestError),
    ],
)
def test_each_status_becomes_its_error_with_the_server_s_message(
    status: int, code: str, cls: type[RequestError]
) -> None:
    error = error_for(status, body(code, "the server's own words"), now=NOW)
    assert type(error) is cls
    assert str(error) == "the server's own words"
    assert (error.status, error.code) == (status, code)


def test_a_429_carries_its_retry_after() -> None:
    error = error_for(
        429, body("rate_limited", "too many requests for this API key"), retry_after="3", now=NOW
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 3.0 and error.retryable
    assert str(error) == "too many requests for this API key"
    assert error.status == 429


def test_an_answer_from_something_else_is_described() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1>\n</body></html>"
    error = error_for(502, html, reason_phrase="Bad Gateway", now=NOW)
    assert isinstance(error, GatewayError) and error.retryable
    assert str(error) == (
        "the gateway answered 502 Bad Gateway: <html><body><h1>502 Bad Gateway</h1> </body></html>"
    )
    assert error.code is None
    redirect = error_for(
        307, b"", reason_phrase="Temporary Redirect", location="https://gw/v1/x", now=NOW
    )
    assert type(redirect) is RequestError
    assert "a redirect to https://gw/v1/x" in str(redirect)
    empty = error_for(404, b"", reason_phrase="Not Found", now=NOW)
    assert isinstance(empty, NotFound) and str(empty) == "the gateway answered 404 Not Found"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("Wed, 02 Dec 2026 10:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 09:59:00 GMT", 0.0),
        (None, DEFAULT_RETRY_AFTER_S),
        ("", DEFAULT_RETRY_AFTER_S),
        ("soon", DEFAULT_RETRY_AFTER_S),
        ("-4", DEFAULT_RETRY_AFTER_S),
        ("nan", DEFAULT_RETRY_AFTER_S),
    ],
)
def test_retry_after_reads_seconds_or_a_date(header: str | None, seconds: float) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_unreachable_says_what_happened() -> None:
    refused = unreachable("http://h:1", "ConnectError", "[Errno 111] Connection refused")
    assert str(refused) == (
        "cannot reach the gateway at http://h:1 (ConnectError: [Errno 111] Connection refused)"
    )
    assert refused.retryable
    slow = unreachable("http://h:1", "ReadTimeout", "timed out", timeout_s=2.5)
    assert str(slow) == "no answer from the gateway at http://h:1 within 2.5 s (ReadTimeout)"
    assert unreachable("http://h:1", "ConnectError", "").args == (
        "cannot reach the gateway at http://h:1 (ConnectError)",
    )


# -- polling --------------------------------------------------------------------------------


def test_polling_starts_quickly_and_settles_at_two_seconds() -> None:
    delays = [poll_delay(i) for i in range(12)]
    assert delays[0] == pytest.approx(0.1)
    assert delays[1] == pytest.approx(0.15)
    assert delays == sorted(delays)
    assert delays[-1] == 2.0
    assert poll_delay(10_000) == 2.0
    assert sum(delays[:8]) < 5  # the first eight looks within five seconds
    with pytest.raises(ValueError):
        poll_delay(-1)
