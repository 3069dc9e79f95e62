"""Pure parts of the gateway: rate limits, API keys, schedule ticks, config loading."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from livecue import ConfigError
from livecue.gateway.config import load_config
from livecue.gateway.services import keys
from livecue.gateway.services.ratelimit import TokenBuckets
from livecue.gateway.services.schedules import due_ticks, next_tick, validate_cron

UTC = timezone.utc


def test_token_bucket_allows_a_burst_then_paces() -> None:
    buckets = TokenBuckets(rate=2.0, burst=4.0)
    assert [buckets.take("k", 0.0) for _ in range(4)] == [0.0] * 4
    wait = buckets.take("k", 0.0)
    assert wait == pytest.approx(0.5)  # one token every half second
    assert buckets.take("k", 0.5) == 0.0
    assert buckets.take("other", 0.5) == 0.0  # keys are independent


def test_token_bucket_refills_up_to_the_burst_only() -> None:
    buckets = TokenBuckets(rate=1.0, burst=2.0)
    buckets.take("k", 0.0)
    buckets.take("k", 0.0)
    assert buckets.take("k", 100.0) == 0.0
    assert buckets.take("k", 100.0) == 0.0
    assert buckets.take("k", 100.0) > 0.0


def test_token_bucket_forgets_the_oldest_keys_past_its_bound() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1.0, max_keys=2)
    buckets.take("a", 0.0)
    buckets.take("b", 0.0)
    buckets.take("c", 0.0)  # "a" is forgotten and comes back full
    assert buckets.take("a", 0.0) == 0.0
    assert buckets.take("c", 0.0) > 0.0


def test_api_keys_round_trip_and_store_only_a_hash() -> None:
    issued = keys.issue()
    assert issued.token.startswith("lck_") and issued.secret_hash not in issued.token
    parsed = keys.parse(issued.token)
    assert parsed is not None and parsed[0] == issued.key_id
    assert keys.matches(parsed[1], issued.secret_hash)
    assert not keys.matches(parsed[1] + "x", issued.secret_hash)
    assert keys.issue().token != issued.token
    for bad in ("", "lck_", "lck_abc", "xyz_a_b", "Bearer lck_a_b"):
        assert keys.parse(bad) is None


def test_due_ticks_fire_each_missed_tick_once_within_the_catch_up() -> None:
    last = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    now = last + timedelta(seconds=5, milliseconds=500)
    ticks = due_ticks("* * * * * *", "UTC", last=last, now=now, catch_up=timedelta(seconds=60))
    assert [t.second for t in ticks] == [1, 2, 3, 4, 5]
    # resuming from the last fired tick gives nothing twice
    again = due_ticks("* * * * * *", "UTC", last=ticks[-1], now=now, catch_up=timedelta(60))
    assert again == []


def test_due_ticks_drop_ticks_older_than_the_catch_up() -> None:
    last = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    now = last + timedelta(hours=3)
    ticks = due_ticks("0 * * * *", "UTC", last=last, now=now, catch_up=timedelta(minutes=90))
    assert [t.hour for t in ticks] == [2, 3]


def test_nothing_is_due_before_a_schedule_ever_fired() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_ticks("* * * * *", "UTC", last=None, now=now, catch_up=timedelta(hours=1)) == []


def test_ticks_follow_the_time_zone_across_daylight_saving() -> None:
    # Europe/Berlin springs forward on 2026-03-29: 09:00 local is 08:00 UTC before, 07:00 after
    before = next_tick("0 9 * * *", "Europe/Berlin", datetime(2026, 3, 28, 0, 0, tzinfo=UTC))
    after = next_tick("0 9 * * *", "Europe/Berlin", datetime(2026, 3, 30, 0, 0, tzinfo=UTC))
    assert before.astimezone(UTC).hour == 8
    assert after.astimezone(UTC).hour == 7


def test_invalid_cron_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid cron"):
        validate_cron("61 * * * *")


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hooks: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "schedules:\n  s:\n    cron: '* * * * *'\n    timezone: Mars/Olympus\n"
        "    target: {room: r}\n    cue: {kind: say, text: hi}\n"
    )
    with pytest.raises(ConfigError, match=r"schedules\.s\.timezone"):
        load_config(wrong)
    two_targets = tmp_path / "targets.yaml"
    two_targets.write_text(
        "schedules:\n  s:\n    cron: '* * * * *'\n    target: {room: r, all: true}\n"
        "    cue: {kind: say, text: hi}\n"
    )
    with pytest.raises(ConfigError, match="exactly one of room, prefix or all"):
        load_config(two_targets)


def test_an_empty_config_has_no_hooks_or_schedules(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = load_config(empty)
    assert config.hooks == {} and config.schedules == {}
    assert load_config(None).hooks == {}
