"""Pure parts of running several instances: who does which work, tick names across a
daylight-saving change, the database URL, cue filters."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from livecue import ConfigError
from livecue.gateway.services.instances import owner_of
from livecue.gateway.services.schedules import due_ticks, wall_clock
from livecue.store import CueFilter, describe, open_store
from livecue.store.sqlite import SQLiteStore

UTC = timezone.utc


def test_every_instance_computes_the_same_owner() -> None:
    instances = ["a1", "b2", "c3"]
    for key in ("room-1", "room-2", "support/line 2"):
        assert owner_of(key, instances) == owner_of(key, list(reversed(instances)))
    assert owner_of("room", []) is None


def test_work_is_spread_and_only_a_gone_instances_share_moves() -> None:
    rooms = [f"room-{n}" for n in range(3000)]
    before = {r: owner_of(r, ["a", "b", "c"]) for r in rooms}
    shares = Counter(before.values())
    assert set(shares) == {"a", "b", "c"}
    assert min(shares.values()) > 800  # roughly a third each
    after = {r: owner_of(r, ["a", "c"]) for r in rooms}
    moved = [r for r in rooms if before[r] != after[r]]
    assert moved and all(before[r] == "b" for r in moved)  # only b's rooms moved


def test_the_night_the_clocks_go_back_a_daily_time_is_one_tick() -> None:
    # 02:30 happens twice in Berlin on 2027-10-31: at 00:30 and at 01:30 UTC
    ticks = due_ticks(
        "30 2 * * *",
        "Europe/Berlin",
        last=datetime(2027, 10, 30, 12, tzinfo=UTC),
        now=datetime(2027, 10, 31, 3, tzinfo=UTC),
        catch_up=timedelta(days=2),
    )
    assert [t.astimezone(UTC).hour for t in ticks] == [0, 1]  # croniter yields both...
    names = {wall_clock(t, "Europe/Berlin") for t in ticks}
    assert names == {"2027-10-31T02:30:00"}  # ...which share one name: it fires once


def test_the_night_the_clocks_go_forward_a_missing_time_fires_after_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2027-03-28: the tick is 03:00 local, once
    ticks = due_ticks(
        "30 2 * * *",
        "Europe/Berlin",
        last=datetime(2027, 3, 27, 12, tzinfo=UTC),
        now=datetime(2027, 3, 28, 12, tzinfo=UTC),
        catch_up=timedelta(days=2),
    )
    assert [wall_clock(t, "Europe/Berlin") for t in ticks] == ["2027-03-28T03:00:00"]
    assert ticks[0].astimezone(UTC) == datetime(2027, 3, 28, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("db", "path"),
    [
        ("livecue.db", "livecue.db"),
        ("/var/lib/livecue.db", "/var/lib/livecue.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////absolute/x.db", "/absolute/x.db"),
    ],
)
def test_a_path_or_sqlite_url_is_a_sqlite_store(db: str, path: str) -> None:
    store = open_store(db)
    assert isinstance(store, SQLiteStore) and store.path == path


def test_a_postgresql_url_is_a_postgres_store() -> None:
    store = open_store("postgresql://livecue@db.internal:5432/livecue")
    assert store.backend == "postgres" and store.shared


@pytest.mark.parametrize("db", ["mysql://x/y", "redis://h", ""])
def test_anything_else_is_a_config_error(db: str) -> None:
    with pytest.raises(ConfigError):
        open_store(db)


def test_a_database_url_is_printed_without_its_password() -> None:
    assert (
        describe("postgresql://app:s3cret@db:5432/livecue")
        == "postgresql://app:***@db:5432/livecue"
    )
    assert describe("postgresql://app@db/livecue") == "postgresql://app@db/livecue"
    assert describe("/var/lib/livecue.db") == "/var/lib/livecue.db"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (CueFilter(source="api"), {"source_exact": "api", "broadcast": 0}),
        (CueFilter(source="broadcast"), {"source_exact": None, "broadcast": 1}),
        (CueFilter(source="hook"), {"source_prefix": "hook:"}),
        (CueFilter(source="schedule"), {"source_prefix": "schedule:"}),
        (CueFilter(hook="donations"), {"source_exact": "hook:donations"}),
        (CueFilter(before=(10.5, "abc")), {"cursor_at": 10.5, "cursor_id": "abc"}),
    ],
)
def test_cue_filters_read_the_source_columns(where: CueFilter, expected: dict[str, object]) -> None:
    params = where.params()
    for name, value in expected.items():
        assert params[name] == value
