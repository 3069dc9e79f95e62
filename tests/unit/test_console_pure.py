"""Pure parts of the console: sessions and CSRF tokens, sign-in redirects, the latency
chart, the cue filters and the live pages' change tracking."""

from __future__ import annotations

import pytest

from livecue._signing import SigningKey
from livecue.gateway.console.filters import cue_query, parse_time
from livecue.gateway.console.latency import (
    latency_buckets,
    latency_chart,
    nice_ceiling,
    percentile,
)
from livecue.gateway.console.live import OVERLAP_S, ChangeTracker
from livecue.gateway.console.session import (
    Session,
    Sessions,
    console_secret,
    new_session,
    safe_next,
)
from livecue.store import CueRecord

KEY = SigningKey.from_livekit("APIkey", "a-livekit-secret")
NOW = 1_800_000_000.0


def sessions() -> Sessions:
    return Sessions(console_secret(KEY))


def test_the_console_secret_is_derived_the_same_everywhere_and_is_not_the_signing_key() -> None:
    again = SigningKey.from_livekit("APIkey", "a-livekit-secret")
    assert console_secret(KEY) == console_secret(again)
    assert console_secret(KEY) != KEY.key
    assert console_secret(KEY) != console_secret(SigningKey.from_livekit("APIkey", "other"))
    # a known answer (openssl dgst -sha256 -hmac s3cret <<< livecue/console-session/v1, no newline)
    assert console_secret(SigningKey.from_secret("s3cret")).hex() == (
        "7c6ff7407e4d11134be10a49b6ca62246118e7521f6bf79de14bcb25445d28c2"
    )


def test_a_session_round_trips_until_it_expires() -> None:
    session = new_session("k1", now=NOW, lifetime_s=3600)
    cookie = sessions().encode(session)
    assert sessions().decode(cookie, now=NOW) == Session("k1", session.sid, NOW + 3600)
    assert sessions().decode(cookie, now=NOW + 3599) is not None
    assert sessions().decode(cookie, now=NOW + 3600) is None


def test_the_cookie_holds_no_secret() -> None:
    cookie = sessions().encode(new_session("k1", now=NOW, lifetime_s=60))
    assert "a-livekit-secret" not in cookie
    assert console_secret(KEY).hex() not in cookie


@pytest.mark.parametrize(
    "cookie",
    [None, "", "garbage", "a.b", "W10.AAAA", "WyJrMSJd.sig"],
)
def test_a_missing_or_malformed_cookie_is_no_session(cookie: str | None) -> None:
    assert sessions().decode(cookie, now=NOW) is None


def test_a_tampered_or_foreign_cookie_is_no_session() -> None:
    cookie = sessions().encode(new_session("k1", now=NOW, lifetime_s=60))
    payload, _, signature = cookie.rpartition(".")
    forged = sessions().encode(new_session("k2", now=NOW, lifetime_s=60))
    assert sessions().decode(forged.rpartition(".")[0] + "." + signature, now=NOW) is None
    assert sessions().decode(payload + "." + signature[::-1], now=NOW) is None
    other = Sessions(console_secret(SigningKey.from_secret("another gateway")))
    assert other.decode(cookie, now=NOW) is None


def test_a_signed_cookie_of_the_wrong_shape_is_no_session() -> None:
    from itsdangerous import URLSafeSerializer

    signer = URLSafeSerializer(console_secret(KEY), salt="livecue-console-session")
    for fields in (["k1", "sid"], ["k1", "sid", "tomorrow"], {"k": "k1"}, ["k1", 7, 9e9]):
        assert sessions().decode(signer.dumps(fields), now=NOW) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    one = new_session("k1", now=NOW, lifetime_s=60)
    two = new_session("k1", now=NOW, lifetime_s=60)
    token = sessions().csrf_token(one)
    assert sessions().csrf_ok(one, token)
    assert not sessions().csrf_ok(two, token)
    assert not sessions().csrf_ok(one, None)
    assert not sessions().csrf_ok(one, "")
    assert not sessions().csrf_ok(one, token[:-1])
    assert not sessions().csrf_ok(one, "é" * 64)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/cues?state=held", "/console/cues?state=held"),
        ("/console", "/console"),
        ("/console/", "/console/"),
        (None, "/console/"),
        ("", "/console/"),
        ("https://evil.example/console", "/console/"),
        ("//evil.example/console", "/console/"),
        ("/consolex", "/console/"),
        ("/console.evil.example", "/console/"),
        ("/console/\\evil.example", "/console/"),
        ("/console/\n/evil", "/console/"),
        ("/console/../v1/keys", "/console/"),
        ("/console/%2e%2e//evil.example", "/console/"),
        ("/console/%2E%2E/%2e%2e/v1/keys", "/console/"),
        ("/console//evil.example", "/console/"),
        ("/console/cues/abc?next=%2e%2e", "/console/cues/abc?next=%2e%2e"),
        ("/v1/keys", "/console/"),
        ("javascript:alert(1)", "/console/"),
    ],
)
def test_after_sign_in_only_console_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0


def test_latency_buckets_cover_the_hour_in_five_minute_steps() -> None:
    now = 3600.0 * 10 + 120  # two minutes into a bucket
    times = [
        (now - 60, now - 60 + 0.010),
        (now - 50, now - 50 + 0.030),
        (now - 3000, now - 3000 + 0.200),
        (now - 7200, now - 7200 + 9.0),  # before the hour: left out
    ]
    buckets = latency_buckets(times, now=now)
    assert len(buckets) == 12
    assert buckets[-1].start == 3600.0 * 10
    assert buckets[0].start == 3600.0 * 10 - 11 * 300
    assert [b.start for b in buckets] == sorted(b.start for b in buckets)
    last = buckets[-1]
    assert (last.count, last.p50_ms, last.p95_ms) == (2, pytest.approx(10), pytest.approx(30))
    assert sum(b.count for b in buckets) == 3
    assert sum(1 for b in buckets if b.p50_ms is None) == 10


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.3, 0.5), (1, 1), (1.2, 2), (3, 5), (7, 10), (48, 50), (120, 200)]
)
def test_the_chart_tops_at_a_round_number(value: float, top: float) -> None:
    assert nice_ceiling(value) == pytest.approx(top)


def test_the_chart_draws_a_bar_per_bucket_with_deliveries_within_its_frame() -> None:
    now = 3600.0 * 10
    times = [(now - 100, now - 100 + 0.040), (now - 1000, now - 1000 + 0.090)]
    chart = latency_chart(latency_buckets(times, now=now), width=600, height=200)
    assert chart.top_ms == 100
    assert len(chart.bars) == 2
    for bar in chart.bars:
        assert chart.plot_left <= bar.x < chart.width
        assert 0 <= bar.p95_y <= bar.p50_y <= chart.plot_bottom  # p95 is the taller bar
        assert bar.p50_y + bar.p50_height == pytest.approx(chart.plot_bottom)
    tallest = max(chart.bars, key=lambda b: b.p95_height)
    assert tallest.bucket.p95_ms == pytest.approx(90)
    assert len(chart.labels) == 4
    empty = latency_chart(latency_buckets([], now=now))
    assert empty.bars == [] and empty.top_ms == 1


def record(cue_id: str, updated_at: float) -> CueRecord:
    return CueRecord(
        **{
            **dict.fromkeys(CueRecord.FIELDS),
            "id": cue_id,
            "room": "r",
            "transport": "rpc",
            "payload": "{}",
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": 0.0,
            "expires_at": 0.0,
            "source": "api",
            "created_at": updated_at,
            "updated_at": updated_at,
        }
    )


def test_changes_are_told_once_and_late_commits_are_caught() -> None:
    tracker = ChangeTracker(cursor=100.0)
    assert tracker.since == 100.0 - OVERLAP_S
    first = [record("a", 100.5), record("b", 101.0)]
    assert [r.id for r in tracker.new(first, full=False)] == ["a", "b"]
    assert tracker.cursor == 101.0
    # the next poll looks back again: the same rows are not told twice...
    late = [record("a", 100.5), record("c", 100.8), record("b", 101.0)]
    assert [r.id for r in tracker.new(late, full=False)] == ["c"]  # ...a late commit is
    # a cue that changes again is a new change
    assert [r.id for r in tracker.new([record("a", 101.2)], full=False)] == ["a"]
    assert tracker.cursor == 101.2


def test_a_full_batch_pages_on_instead_of_looking_back() -> None:
    tracker = ChangeTracker(cursor=0.0)
    tracker.new([record(str(i), 1.0 + i / 1000) for i in range(3)], full=True)
    assert tracker.since == tracker.cursor == pytest.approx(1.002)
    tracker.new([], full=False)
    assert tracker.since == pytest.approx(1.002 - OVERLAP_S)


def test_the_cue_filters_read_the_form() -> None:
    query = cue_query(
        {
            "room": " room-1 ",
            "state": "held",
            "outcome": "",
            "source": "hook",
            "created_after": "2026-12-02T10:00",
            "created_before": "2026-12-02T11:00:30+01:00",
        }
    )
    assert query.errors == []
    assert query.where.room == "room-1"
    assert query.where.state == "held"
    assert query.where.outcome is None
    assert query.where.source == "hook"
    assert query.where.created_after == parse_time("2026-12-02T10:00:00Z")
    assert query.where.created_before == parse_time("2026-12-02T10:00:30Z")
    assert "outcome" not in query.values
    assert query.link("CUR") == (
        "room=room-1&state=held&source=hook&created_after=2026-12-02T10%3A00"
        "&created_before=2026-12-02T11%3A00%3A30%2B01%3A00&cursor=CUR"
    )


def test_bad_filters_are_named_and_ignored() -> None:
    query = cue_query({"state": "lost", "source": "fax", "created_after": "soon", "cursor": "?"})
    assert len(query.errors) == 4
    assert query.where.state is None and query.where.source is None
    assert query.where.created_after is None and query.where.before is None
    assert query.values == {}


def test_times_read_in_utc_or_in_a_schedules_zone() -> None:
    from datetime import datetime, timezone

    from livecue.gateway.console.render import clip, when

    assert when(None) == "—"
    assert when(0) == "1970-01-01 00:00:00 UTC"
    assert when(0.1239, ms=True) == "1970-01-01 00:00:00.123 UTC"
    summer = datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc)
    assert when(summer, "Europe/Berlin") == "2026-07-01 09:00:00 CEST"
    assert clip("a" * 100, 10) == "a" * 9 + "…"
    assert clip(None) == ""
