"""The store interface the gateway depends on; ``SQLiteStore`` and ``PostgresStore`` are
its implementations (their shared logic is ``_sql.SQLStore``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from .records import (
    CallbackAttempt,
    CallbackRecord,
    CueEvent,
    CueFilter,
    CueRecord,
    CueState,
    HookLogEntry,
    HookResult,
    KeyRecord,
    NewCue,
    Transition,
    WatchedCue,
)


class Store(Protocol):
    """Durable state of a gateway. Every method is one transaction."""

    backend: str
    shared: bool
    """Whether several gateway instances may use the store at once."""

    async def migrate(self) -> list[int]: ...
    async def schema_version(self) -> tuple[int, int]: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...
    def listen(self, callback: Callable[[], None]) -> None: ...

    # a gateway instance
    async def attach_instance(
        self, instance: str, *, host: str, pid: int, now: float, ttl: float
    ) -> None: ...
    async def detach_instance(self, instance: str, *, now: float) -> None: ...
    async def heartbeat(
        self, instance: str, *, host: str, pid: int, now: float, ttl: float
    ) -> None: ...
    async def live_instances(self, *, now: float) -> list[str]: ...

    # cues
    async def insert_cue(
        self, cue: NewCue, *, now: float, hook_delivery: tuple[str, str] | None = None
    ) -> tuple[CueRecord, bool]: ...
    async def insert_checked(
        self, items: Sequence[tuple[NewCue, tuple[str, str] | None]], *, now: float
    ) -> list[tuple[CueRecord, bool]]: ...
    async def insert_cues(self, cues: Sequence[NewCue], *, now: float) -> list[CueRecord]: ...
    async def get_cue(self, cue_id: str) -> CueRecord | None: ...
    async def history(self, cue_id: str) -> list[CueEvent]: ...
    async def list_cues(self, where: CueFilter, *, limit: int = 100) -> list[CueRecord]: ...
    async def cues_changed(self, *, after: float, limit: int = 200) -> list[CueRecord]: ...
    async def outcome_counts(self, *, since: float) -> list[tuple[str, str | None, int]]: ...
    async def delivery_times(
        self, *, since: float, limit: int = 10_000
    ) -> list[tuple[float, float]]: ...
    async def cancel(
        self, cue_id: str, *, now: float, by: str
    ) -> tuple[CueRecord | None, bool]: ...
    async def claim_due(self, *, now: float, limit: int, owner: str) -> list[CueRecord]: ...
    async def set_state(
        self,
        cue_id: str,
        state: CueState,
        *,
        from_state: CueState,
        now: float,
        reason: str | None = None,
        next_attempt_at: float | None = None,
        owner: str | None = None,
    ) -> bool: ...
    async def record_outcome(
        self,
        cue_id: str,
        outcome: str | None,
        *,
        now: float,
        receipt: str | None = None,
        reason: str | None = None,
        identity: str | None = None,
    ) -> tuple[CueRecord | None, Transition | None]: ...
    async def agent_left(
        self,
        room: str,
        identity: str,
        *,
        now: float,
        only: Sequence[str] | None = None,
        lost: bool = False,
    ) -> list[tuple[str, Transition]]: ...
    async def close_overdue(self, *, now: float) -> list[tuple[str, Transition]]: ...
    async def watched(self, *, limit: int = 10_000) -> list[WatchedCue]: ...
    async def release_held(self, room: str, *, now: float, reason: str) -> list[str]: ...
    async def set_held_reason(self, room: str, reason: str, *, now: float) -> int: ...
    async def expire_due(self, *, now: float) -> list[str]: ...
    async def recover(self, *, now: float) -> list[str]: ...
    async def sending_by(self, owner: str) -> list[str]: ...
    async def purge_finished(self, *, before: float) -> int: ...
    async def held_rooms(self) -> list[tuple[str, str | None]]: ...
    async def next_due_at(self) -> float | None: ...
    async def pending_for_room(self, room: str, *, now: float) -> list[CueRecord]:
        """Data-transport cues for ``room`` no agent has acknowledged, marked as fetched
        (from then on they cannot be cancelled)."""
        ...

    async def count_by_state(self) -> dict[str, int]: ...

    # hooks, schedules, keys
    async def hook_delivery(self, hook: str, delivery_id: str) -> str | None: ...
    async def last_tick(self, schedule: str) -> float | None: ...
    async def last_fired(self, schedule: str) -> float | None: ...
    async def advance_tick(self, schedule: str, tick: float) -> bool: ...
    async def fire_tick(
        self, schedule: str, tick: str, *, at: float, cues: Sequence[NewCue], now: float
    ) -> list[CueRecord] | None: ...
    async def log_hook(
        self,
        hook: str,
        result: HookResult,
        *,
        now: float,
        reason: str | None = None,
        delivery_id: str | None = None,
        cue_id: str | None = None,
        body: str | None = None,
    ) -> None: ...
    async def hook_log(
        self, hook: str, *, limit: int = 50, before: int | None = None
    ) -> list[HookLogEntry]: ...
    async def add_key(
        self,
        key_id: str,
        secret_hash: str,
        scopes: list[str],
        *,
        name: str | None,
        now: float,
        callback_url: str | None = None,
    ) -> None: ...
    async def get_key(self, key_id: str) -> KeyRecord | None: ...
    async def list_keys(self) -> list[KeyRecord]: ...
    async def revoke_key(self, key_id: str, *, now: float) -> bool: ...

    # status callbacks
    async def claim_callbacks(
        self, *, now: float, limit: int, owner: str
    ) -> list[CallbackRecord]: ...
    async def callback_sent(
        self,
        callback_id: str,
        attempt: CallbackAttempt,
        *,
        state: str,
        next_attempt_at: float,
        now: float,
    ) -> None: ...
    async def callbacks_of(self, cue_id: str) -> list[CallbackRecord]: ...
    async def next_callback_at(self) -> float | None: ...


@runtime_checkable
class SharedLimits(Protocol):
    """Token buckets shared by every instance (PostgreSQL)."""

    async def take_tokens(
        self, name: str, *, rate: float, burst: float, want: float, now: float
    ) -> float: ...
