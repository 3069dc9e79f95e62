"""The callback rules that need no network: which URLs may be called, and what follows an
attempt."""

from __future__ import annotations

import pytest

from livecue._errors import ConfigError, InvalidRequest
from livecue.gateway.services.callbacks import (
    RETRY_SCHEDULE_S,
    AllowList,
    after_attempt,
    check_secret,
    parse_schedule,
)

ALLOW = AllowList.parse("https://api.example.com/livecue/, http://10.0.0.5:9000/hooks/cb")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/livecue/",
        "https://api.example.com/livecue/orders/42?x=1",
        "https://API.Example.com:443/livecue/a",
        "https://api.example.com./livecue/a",
        "http://10.0.0.5:9000/hooks/cb",
        "http://10.0.0.5:9000/hooks/cb/more",
    ],
)
def test_urls_under_an_entry_are_admitted(url: str) -> None:
    assert ALLOW.check(url) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://api.example.com/other", "not on the gateway's callback allow-list"),
        ("https://api.example.com.evil.test/livecue/", "not on the gateway's callback allow-list"),
        ("https://api.example.com:8443/livecue/", "not on the gateway's callback allow-list"),
        ("http://api.example.com/livecue/", "not on the gateway's callback allow-list"),
        ("http://10.0.0.5:9000/hooks/cbx", "not on the gateway's callback allow-list"),
        ("https://api.example.com/livecue/../admin", "'..' path segments"),
        ("https://api.example.com/livecue/%2E%2E/admin", "'..' path segments"),
        ("https://api.example.com/livecue/..%5cadmin", "'..' path segments"),
        ("https://u:p@api.example.com/livecue/", "user name or password"),
        ("https://api.example.com/livecue/a b", "spaces or control characters"),
        ("ftp://api.example.com/livecue/", "absolute http:// or https:// URL"),
        ("/livecue/", "absolute http:// or https:// URL"),
        ("https://api.example.com:99999/livecue/", "not a valid URL"),
        ("https://api.example.com/" + "a" * 3000, "longer than 2048"),
    ],
)
def test_anything_else_is_refused_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        ALLOW.check(url)
    assert str(error.value).startswith("callback_url: ") and problem in str(error.value)


def test_an_empty_allow_list_turns_callbacks_off() -> None:
    with pytest.raises(InvalidRequest, match="callbacks are off"):
        AllowList.parse("").check("https://api.example.com/")
    assert not AllowList.parse(None)


def test_a_bad_allow_list_entry_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LIVECUE_CALLBACK_ALLOW"):
        AllowList.parse("api.example.com")


def test_the_schedule_retries_until_it_runs_out() -> None:
    schedule = (5.0, 30.0)
    assert after_attempt(1, 200, now=100, schedule=schedule) == ("delivered", 100)
    assert after_attempt(1, 500, now=100, schedule=schedule) == ("pending", 105)
    assert after_attempt(2, None, now=100, schedule=schedule) == ("pending", 130)
    assert after_attempt(3, 503, now=100, schedule=schedule) == ("failed", 100)
    assert after_attempt(3, 204, now=100, schedule=schedule) == ("delivered", 100)
    assert after_attempt(1, 302, now=100, schedule=()) == ("failed", 100)  # no redirects
    # the published default: seven attempts over about 1 h 43 min
    assert len(RETRY_SCHEDULE_S) + 1 == 7 and sum(RETRY_SCHEDULE_S) == 6155


def test_settings_are_checked() -> None:
    assert parse_schedule("0.5, 2,10") == (0.5, 2.0, 10.0)
    with pytest.raises(ConfigError, match="LIVECUE_CALLBACK_RETRY_S"):
        parse_schedule("5,soon")
    with pytest.raises(ConfigError, match="negative"):
        parse_schedule("-1")
    with pytest.raises(ConfigError, match="LIVECUE_CALLBACK_SECRET"):
        check_secret("not base64 !")
