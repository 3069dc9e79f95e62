"""The store's logic, written once over a small transaction interface.

A backend (``sqlite.py``, ``postgres.py``) supplies named queries in its own dialect
(``sql/<backend>/queries.sql``) and transactions that run them; everything a store
does with them — compare-and-set on outcomes, handing a departed agent's cues on,
firing a schedule tick once — lives here, so both backends behave alike.
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from .records import (
    FINAL_STATES,
    OVERDUE_S,
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
    after_agent_left,
    after_outcome,
    after_overdue,
    callback_event,
    expiry_reason,
)

MAX_BATCH = 256
"""At most this many writes share one transaction."""

Row = Mapping[str, Any]
Params = Mapping[str, Any]
T = TypeVar("T")


class Tx(Protocol):
    """Named queries inside one transaction (or one read), run on the backend's thread."""

    def one(self, query: str, params: Params) -> Row | None: ...
    def all(self, query: str, params: Params) -> Sequence[Row]: ...
    def run(self, query: str, params: Params) -> int: ...
    def run_many(self, query: str, params: Sequence[Params]) -> None: ...
    def notify(self) -> None:
        """Wake the dispatchers of every instance once this transaction commits."""


def _record(row: Row) -> CueRecord:
    return CueRecord(**{name: row[name] for name in CueRecord.FIELDS})


def _key(row: Row) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(row["scopes"].split()),
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        callback_url=row["callback_url"],
    )


def _event(
    tx: Tx, cue_id: str, at: float, state: str, reason: str | None, outcome: str | None = None
) -> None:
    """Record a step of a cue's life; a final step also queues the cue's callback (if it
    names a URL), in the same transaction, so no final outcome goes unreported."""
    params = {"cue_id": cue_id, "at": at, "state": state, "reason": reason, "outcome": outcome}
    tx.run("insert_event", params)
    if state in FINAL_STATES:
        callback = {
            "callback_id": "msg_" + uuid.uuid4().hex,
            "cue_id": cue_id,
            "event": callback_event(state, outcome),
            "now": at,
        }
        tx.run("enqueue_callback", callback)


class SQLStore(abc.ABC):
    """Every store operation; each is one transaction of the backend's."""

    backend: str
    shared: bool = False
    """Whether several gateway instances may use this store at once."""
    parallel_writes: int = 1
    """Transactions this store runs at once (a database with one writer gains nothing)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._waiting: list[tuple[Callable[[Tx], Any], asyncio.Future[Any]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self.commits = 0
        """Write transactions run (and ``writes``, the writes they carried)."""
        self.writes = 0

    # -- what a backend provides ----------------------------------------------------

    @abc.abstractmethod
    async def _transaction(self, works: Sequence[Callable[[Tx], Any]]) -> tuple[list[Any], bool]:
        """Run ``works`` in order in one write transaction, on the backend's thread (one hop
        for the whole transaction); their results, and whether one asked to notify."""

    @abc.abstractmethod
    async def _read(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` against committed data, on the backend's thread."""

    @abc.abstractmethod
    async def migrate(self) -> list[int]:
        """Apply missing migrations (once, even with instances starting together)."""

    @abc.abstractmethod
    async def schema_version(self) -> tuple[int, int]:
        """(version of the database, newest version this livecue knows)."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in a write transaction, and return once that has committed.

        Group commit: writes asked for while a transaction runs wait for the next one,
        which takes them all, so one flush to disk serves many (the dispatcher's steps
        and the API's new cues alike); a database that takes several writers runs up to
        :attr:`parallel_writes` such transactions at once. A failing batch is run again
        one write per transaction, so one failure never fails the others.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        # a flusher whose loop has ended is done before its done-callback runs: count live ones
        if sum(not f.done() for f in self._flushers) < self.parallel_writes:
            flusher = asyncio.create_task(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self.commits += 1
            self.writes += len(batch)
            try:
                results, notified = await self._transaction([work for work, _ in batch])
            except Exception:
                notified = await self._one_by_one(batch)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            if notified:
                self._woken()

    async def _one_by_one(
        self, batch: Sequence[tuple[Callable[[Tx], Any], asyncio.Future[Any]]]
    ) -> bool:
        notified = False
        for work, future in batch:
            try:
                [result], asked = await self._transaction([work])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            notified = notified or asked
            if not future.done():
                future.set_result(result)
        return notified

    async def ping(self) -> None:
        await self._read(lambda tx: tx.one("ping", {}))

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when any instance stores work for the dispatchers (new cues,
        released or requeued ones)."""
        self._listeners.append(callback)

    def _woken(self) -> None:
        for callback in self._listeners:
            callback()

    # -- cues -------------------------------------------------------------------

    async def insert_cue(
        self, cue: NewCue, *, now: float, hook_delivery: tuple[str, str] | None = None
    ) -> tuple[CueRecord, bool]:
        """Store ``cue`` as queued. Returns (record, created).

        An earlier cue with the same (key_id, idempotency_key), made from the same
        hook delivery, or with the same id, is returned instead with ``created`` False.
        """
        [result] = await self.insert_checked([(cue, hook_delivery)], now=now)
        return result

    async def insert_checked(
        self, items: Sequence[tuple[NewCue, tuple[str, str] | None]], *, now: float
    ) -> list[tuple[CueRecord, bool]]:
        """Store several cues in one transaction (group commit), each checked for an earlier
        cue of the same hook delivery, idempotency key or id, as :meth:`insert_cue` does —
        an earlier item of the same batch included."""

        def work(tx: Tx) -> list[tuple[CueRecord, bool]]:
            results = [_insert_one(tx, cue, hook, now) for cue, hook in items]
            if any(created for _, created in results):
                tx.notify()
            return results

        return await self._write(work)

    async def insert_cues(self, cues: Sequence[NewCue], *, now: float) -> list[CueRecord]:
        """Store several new cues (a broadcast's, each with a fresh id) in one transaction."""

        def work(tx: Tx) -> list[CueRecord]:
            out = [_insert_new(tx, cue, now, "accepted") for cue in cues]
            if out:
                tx.notify()
            return out

        return await self._write(work)

    async def get_cue(self, cue_id: str) -> CueRecord | None:
        row = await self._read(lambda tx: tx.one("get_cue", {"id": cue_id}))
        return None if row is None else _record(row)

    async def history(self, cue_id: str) -> list[CueEvent]:
        rows = await self._read(lambda tx: tx.all("get_events", {"cue_id": cue_id}))
        return [
            CueEvent(at=r["at"], state=r["state"], reason=r["reason"], outcome=r["outcome"])
            for r in rows
        ]

    async def list_cues(self, where: CueFilter, *, limit: int = 100) -> list[CueRecord]:
        """Cues matching ``where``, newest first (``where.before`` continues a page)."""
        params = {**where.params(), "limit": limit}
        rows = await self._read(lambda tx: tx.all("list_cues", params))
        return [_record(r) for r in rows]

    async def cues_changed(self, *, after: float, limit: int = 200) -> list[CueRecord]:
        """Cues changed after ``after`` (their ``updated_at``), oldest change first."""
        params = {"after": after, "limit": limit}
        rows = await self._read(lambda tx: tx.all("cues_changed", params))
        return [_record(r) for r in rows]

    async def outcome_counts(self, *, since: float) -> list[tuple[str, str | None, int]]:
        """(state, outcome, how many) of the cues created since ``since``."""
        rows = await self._read(lambda tx: tx.all("outcome_counts", {"since": since}))
        return [(r["state"], r["outcome"], int(r["n"])) for r in rows]

    async def delivery_times(
        self, *, since: float, limit: int = 10_000
    ) -> list[tuple[float, float]]:
        """(created_at, delivered_at) of the cues created since ``since`` and delivered."""
        params = {"since": since, "limit": limit}
        rows = await self._read(lambda tx: tx.all("delivery_times", params))
        return [(float(r["created_at"]), float(r["delivered_at"])) for r in rows]

    async def claim_due(self, *, now: float, limit: int, owner: str) -> list[CueRecord]:
        """Move up to ``limit`` due cues to ``sending``, owned by instance ``owner``."""

        def work(tx: Tx) -> list[CueRecord]:
            rows = tx.all("claim_due", {"now": now, "limit": limit, "owner": owner})
            records = [_record(r) for r in rows]
            reason = f"by gateway instance {owner}"
            tx.run_many(
                "insert_event",
                [
                    {
                        "cue_id": r.id,
                        "at": now,
                        "state": "sending",
                        "reason": reason,
                        "outcome": None,
                    }
                    for r in records
                ],
            )
            return records

        return await self._write(work)

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
    ) -> bool:
        """Move a cue from ``from_state`` to ``state`` (the gateway's own steps: held,
        retrying, failed); False if it was not in ``from_state`` (or, with ``owner``, is
        no longer that instance's to move)."""
        params = {
            "id": cue_id,
            "state": state,
            "from_state": from_state,
            "reason": reason,
            "next_attempt_at": next_attempt_at,
            "now": now,
            "owner": owner,
        }

        def work(tx: Tx) -> bool:
            if not tx.run("set_state", params):
                return False
            _event(tx, cue_id, now, state, reason)
            if state in ("queued", "retrying"):
                tx.notify()
            return True

        return await self._write(work)

    async def record_outcome(
        self,
        cue_id: str,
        outcome: str | None,
        *,
        now: float,
        receipt: str | None = None,
        reason: str | None = None,
        identity: str | None = None,
    ) -> tuple[CueRecord | None, Transition | None]:
        """Apply what the agent said of a cue (``outcome``; None: handed over, no word yet).

        Returns the record as it is now and the transition made (None when nothing
        changed: a late or older outcome never overwrites a final or newer one).
        """

        def work(tx: Tx) -> tuple[CueRecord | None, Transition | None]:
            row = tx.one("get_cue_for_update", {"id": cue_id})
            if row is None:
                return None, None
            current = _record(row)
            has_agent = identity is not None or current.agent_identity is not None
            move = after_outcome(
                current.state, current.outcome, outcome, reason, has_agent=has_agent
            )
            if move is None:
                return current, None
            tx.run(
                "set_outcome",
                {
                    "id": cue_id,
                    "state": move.state,
                    "outcome": move.outcome,
                    "receipt": receipt,
                    "reason": move.reason,
                    "identity": identity,
                    "now": now,
                },
            )
            if (current.state, current.outcome) != (move.state, move.outcome):
                _event(tx, cue_id, now, move.state, move.reason, move.outcome)
            updated = tx.one("get_cue", {"id": cue_id})
            assert updated is not None
            return _record(updated), move

        return await self._write(work)

    async def agent_left(
        self,
        room: str,
        identity: str,
        *,
        now: float,
        only: Sequence[str] | None = None,
        lost: bool = False,
    ) -> list[tuple[str, Transition]]:
        """The agent ``identity`` left ``room`` (or lost the cues in ``only``): each cue it
        had and had not finished is delivered again, expired, or closed if acted on."""
        wanted = None if only is None else set(only)

        def work(tx: Tx) -> list[tuple[str, Transition]]:
            moved = []
            for row in tx.all("at_agent_of", {"room": room, "identity": identity}):
                if wanted is not None and row["id"] not in wanted:
                    continue
                expired = row["expires_at"] <= now
                move = after_agent_left(
                    row["outcome"],
                    expired=expired,
                    identity=identity,
                    lost=lost,
                    attempts=row["attempts"],
                )
                _move(tx, row["id"], move, now)
                moved.append((row["id"], move))
            if any(move.state == "queued" for _, move in moved):
                tx.notify()
            return moved

        return await self._write(work)

    async def close_overdue(self, *, now: float) -> list[tuple[str, Transition]]:
        """Close cues still at an agent :data:`OVERDUE_S` after they expired."""

        def work(tx: Tx) -> list[tuple[str, Transition]]:
            moved = []
            for row in tx.all("overdue", {"before": now - OVERDUE_S}):
                move = after_overdue(row["outcome"], row["agent_identity"])
                _move(tx, row["id"], move, now)
                moved.append((row["id"], move))
            return moved

        return await self._write(work)

    async def watched(self, *, limit: int = 10_000) -> list[WatchedCue]:
        """Cues at an agent and not final, least recently changed first."""
        rows = await self._read(lambda tx: tx.all("watched", {"limit": limit}))
        return [
            WatchedCue(
                id=r["id"],
                room=r["room"],
                agent_identity=r["agent_identity"],
                outcome=r["outcome"],
                transport=r["transport"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    async def release_held(self, room: str, *, now: float, reason: str) -> list[str]:
        def work(tx: Tx) -> list[str]:
            rows = tx.all("release_held", {"room": room, "now": now, "reason": reason})
            ids = [r["id"] for r in rows]
            for cue_id in ids:
                _event(tx, cue_id, now, "queued", reason)
            if ids:
                tx.notify()
            return ids

        return await self._write(work)

    async def set_held_reason(self, room: str, reason: str, *, now: float) -> int:
        """Say why the cues held for ``room`` wait, where that has changed (the room exists
        now, but still no agent is in it)."""

        def work(tx: Tx) -> int:
            rows = tx.all("set_held_reason", {"room": room, "reason": reason})
            for row in rows:
                _event(tx, row["id"], now, "held", reason)
            return len(rows)

        return await self._write(work)

    async def expire_due(self, *, now: float) -> list[str]:
        """Expire cues that were never handed to an agent in time; the reason says why."""

        def work(tx: Tx) -> list[str]:
            rows = tx.all("due_to_expire", {"now": now})
            for row in rows:
                reason = expiry_reason(row["state"], row["reason"], row["room"])
                params = {"id": row["id"], "reason": reason, "now": now, "from_state": row["state"]}
                tx.run("set_expired", params)
                _event(tx, row["id"], now, "expired", reason)
            return [r["id"] for r in rows]

        return await self._write(work)

    async def recover(self, *, now: float) -> list[str]:
        """Take over the cues being sent by instances that are gone (a crash): they are
        sent again, and the agent's dedup by id makes that safe."""
        reason = "its gateway instance stopped while sending"

        def work(tx: Tx) -> list[str]:
            ids = [r["id"] for r in tx.all("take_over", {"now": now, "reason": reason})]
            for cue_id in ids:
                _event(tx, cue_id, now, "retrying", reason)
            cut_off = "cut off: its gateway instance stopped during the attempt (sent again)"
            tx.run("record_cut_off_callbacks", {"now": now, "error": cut_off})
            tx.run("take_over_callbacks", {"now": now})
            if ids:
                tx.notify()
            return ids

        return await self._write(work)

    async def sending_by(self, owner: str) -> list[str]:
        """Ids of the cues instance ``owner`` is sending."""
        rows = await self._read(lambda tx: tx.all("sending_by", {"owner": owner}))
        return [r["id"] for r in rows]

    async def purge_finished(self, *, before: float) -> int:
        """Delete finished cues last changed before ``before``, with their history."""

        def work(tx: Tx) -> int:
            tx.run("purge_finished_events", {"before": before})
            tx.run("purge_hook_deliveries", {"before": before})
            tx.run("purge_hook_log", {"before": before})
            return tx.run("purge_finished", {"before": before})

        return await self._write(work)

    async def held_rooms(self) -> list[tuple[str, str | None]]:
        """(room, agent name) pairs that cues are held for."""
        rows = await self._read(lambda tx: tx.all("held_rooms", {}))
        return [(r["room"], r["agent_name"]) for r in rows]

    async def next_due_at(self) -> float | None:
        row = await self._read(lambda tx: tx.one("next_due_at", {}))
        return None if row is None or row["at"] is None else float(row["at"])

    async def pending_for_room(self, room: str, *, now: float) -> list[CueRecord]:
        params = {"room": room, "now": now}
        rows = await self._write(lambda tx: tx.all("pending_for_room", params))
        return sorted((_record(r) for r in rows), key=lambda r: (r.created_at, r.id))

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._read(lambda tx: tx.all("count_by_state", {}))
        return {r["state"]: int(r["n"]) for r in rows}

    # -- instances --------------------------------------------------------------------

    async def heartbeat(
        self, instance: str, *, host: str, pid: int, now: float, ttl: float
    ) -> None:
        """Say that ``instance`` is alive for ``ttl`` more seconds."""
        params = {"id": instance, "host": host, "pid": pid, "now": now, "expires_at": now + ttl}
        await self._write(lambda tx: tx.run("heartbeat", params))

    async def retire(self, instance: str, *, now: float) -> None:
        """``instance`` stops: its unfinished sends are taken over at once (and rows of
        instances gone for a day are cleared)."""
        params = {"id": instance, "long_ago": now - 86_400}
        await self._write(lambda tx: tx.run("retire", params))

    async def live_instances(self, *, now: float) -> list[str]:
        rows = await self._read(lambda tx: tx.all("live_instances", {"now": now}))
        return [r["id"] for r in rows]

    # -- hooks, schedules, keys -----------------------------------------------------

    async def hook_delivery(self, hook: str, delivery_id: str) -> str | None:
        params = {"hook": hook, "delivery_id": delivery_id}
        row = await self._read(lambda tx: tx.one("get_hook_delivery", params))
        return None if row is None else str(row["cue_id"])

    async def last_tick(self, schedule: str) -> float | None:
        row = await self._read(lambda tx: tx.one("get_last_tick", {"schedule": schedule}))
        return None if row is None else float(row["last_tick"])

    async def last_fired(self, schedule: str) -> float | None:
        """The instant of ``schedule``'s latest fired tick (None: it never fired)."""
        row = await self._read(lambda tx: tx.one("last_fired", {"schedule": schedule}))
        return None if row is None or row["at"] is None else float(row["at"])

    async def advance_tick(self, schedule: str, tick: float) -> bool:
        """Record ``tick`` as dealt with; False if it (or a later one) already was."""
        params = {"schedule": schedule, "tick": tick}
        return bool(await self._write(lambda tx: tx.run("advance_tick", params)))

    async def fire_tick(
        self, schedule: str, tick: str, *, at: float, cues: Sequence[NewCue], now: float
    ) -> list[CueRecord] | None:
        """Fire ``schedule``'s tick named ``tick`` (its wall-clock time): store its cues,
        in one transaction with the firing, unless the tick has fired already (here or on
        another instance) — then None. The firing's primary key is the invariant."""

        def work(tx: Tx) -> list[CueRecord] | None:
            firing = {"schedule": schedule, "tick": tick, "at": at, "now": now}
            if not tx.run("insert_firing", firing):
                return None
            why = f"schedule {schedule!r} tick {tick}"
            out = [_insert_new(tx, cue, now, why) for cue in cues]
            tx.run("advance_tick", {"schedule": schedule, "tick": at})
            if out:
                tx.notify()
            return out

        return await self._write(work)

    async def add_key(
        self,
        key_id: str,
        secret_hash: str,
        scopes: list[str],
        *,
        name: str | None,
        now: float,
        callback_url: str | None = None,
    ) -> None:
        params = {
            "id": key_id,
            "secret_hash": secret_hash,
            "scopes": " ".join(scopes),
            "name": name,
            "callback_url": callback_url,
            "now": now,
        }
        await self._write(lambda tx: tx.run("insert_key", params))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        """A key that exists and is not revoked."""
        row = await self._read(lambda tx: tx.one("get_key", {"id": key_id}))
        return None if row is None else _key(row)

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._read(lambda tx: tx.all("list_keys", {}))
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str, *, now: float) -> bool:
        """Revoke a key; False if there is no such key or it was revoked already."""
        params = {"id": key_id, "now": now}
        return bool(await self._write(lambda tx: tx.run("revoke_key", params)))

    # -- cancelling, callbacks, the hook log, settings -----------------------------------

    async def cancel(self, cue_id: str, *, now: float, by: str) -> tuple[CueRecord | None, bool]:
        """Cancel a cue no agent has yet; returns its record and whether it was cancelled
        (False: it is being sent, or an agent has it, or it is final already)."""
        reason = f"cancelled by {by}"

        def work(tx: Tx) -> tuple[CueRecord | None, bool]:
            done = bool(tx.run("cancel", {"id": cue_id, "reason": reason, "now": now}))
            if done:
                _event(tx, cue_id, now, "cancelled", reason)
            row = tx.one("get_cue", {"id": cue_id})
            return (None if row is None else _record(row)), done

        return await self._write(work)

    async def claim_callbacks(self, *, now: float, limit: int, owner: str) -> list[CallbackRecord]:
        """Take up to ``limit`` callbacks that are due, for instance ``owner`` to send."""
        params = {"now": now, "limit": limit, "owner": owner}
        rows = await self._write(lambda tx: tx.all("claim_callbacks", params))
        return [_callback(r) for r in rows]

    async def callback_sent(
        self,
        callback_id: str,
        attempt: CallbackAttempt,
        *,
        state: str,
        next_attempt_at: float,
        now: float,
    ) -> None:
        """Record one attempt at a callback, and what comes next: ``delivered``, ``failed``
        (no attempts left) or ``pending`` again at ``next_attempt_at``."""
        params = {
            "callback_id": callback_id,
            "at": attempt.at,
            "status": attempt.status,
            "duration_ms": attempt.duration_ms,
            "error": attempt.error,
        }
        done = {"id": callback_id, "state": state, "next_attempt_at": next_attempt_at, "now": now}

        def work(tx: Tx) -> None:
            tx.run("callback_attempt", params)
            tx.run("callback_done", done)

        await self._write(work)

    async def callbacks_of(self, cue_id: str) -> list[CallbackRecord]:
        """A cue's callback (there is one at most), with every attempt."""

        def read(tx: Tx) -> list[CallbackRecord]:
            out = []
            for row in tx.all("callbacks_of", {"cue_id": cue_id}):
                attempts = tx.all("callback_attempts_of", {"callback_id": row["id"]})
                history = tuple(
                    CallbackAttempt(a["at"], a["status"], a["duration_ms"], a["error"])
                    for a in attempts
                )
                out.append(_callback(row, history))
            return out

        return await self._read(read)

    async def next_callback_at(self) -> float | None:
        row = await self._read(lambda tx: tx.one("next_callback_at", {}))
        return None if row is None or row["at"] is None else float(row["at"])

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
    ) -> None:
        """Keep what became of one delivery to a hook."""
        params = {
            "hook": hook,
            "received_at": now,
            "result": result,
            "reason": reason,
            "delivery_id": delivery_id,
            "cue_id": cue_id,
            "body": body,
        }
        await self._write(lambda tx: tx.run("log_hook", params))

    async def hook_log(
        self, hook: str, *, limit: int = 50, before: int | None = None
    ) -> list[HookLogEntry]:
        """A hook's deliveries, newest first (``before``: continue from that ``seq``)."""
        params = {"hook": hook, "limit": limit, "before": before}
        rows = await self._read(lambda tx: tx.all("hook_log", params))
        return [
            HookLogEntry(
                seq=int(r["seq"]),
                hook=r["hook"],
                received_at=r["received_at"],
                result=r["result"],
                reason=r["reason"],
                delivery_id=r["delivery_id"],
                cue_id=r["cue_id"],
                body=r["body"],
            )
            for r in rows
        ]


def _insert_one(
    tx: Tx, cue: NewCue, hook: tuple[str, str] | None, now: float
) -> tuple[CueRecord, bool]:
    if hook is not None:
        row = tx.one("get_hook_delivery", {"hook": hook[0], "delivery_id": hook[1]})
        if row is not None:
            existing = tx.one("get_cue", {"id": row["cue_id"]})
            if existing is not None:
                return _record(existing), False
    by_key = {"key_id": cue.key_id, "idempotency_key": cue.idempotency_key}
    if cue.idempotency_key is not None:
        row = tx.one("get_cue_by_idempotency_key", by_key)
        if row is not None:
            return _record(row), False
    delivery = None
    if hook is not None:
        delivery = {"hook": hook[0], "delivery_id": hook[1], "cue_id": cue.id, "now": now}
        if tx.one("insert_hook_delivery", delivery) is None:  # a racing delivery won
            won = tx.one("get_hook_delivery", delivery)
            existing = None if won is None else tx.one("get_cue", {"id": won["cue_id"]})
            assert existing is not None, "the winner's delivery and cue commit together"
            return _record(existing), False
    row = tx.one("insert_cue", {**vars(cue), "now": now})
    if row is None:  # the id is taken (or a racing insert won): the caller decides
        existing = tx.one("get_cue", {"id": cue.id})
        if existing is None:  # the idempotency key of a cue committed a moment ago
            existing = tx.one("get_cue_by_idempotency_key", by_key)
        assert existing is not None
        if delivery is not None:  # this delivery made no cue: it names the one there is
            tx.run("repoint_hook_delivery", {**delivery, "cue_id": existing["id"]})
        return _record(existing), False
    _event(tx, cue.id, now, "queued", "accepted")
    return _record(row), True


def _insert_new(tx: Tx, cue: NewCue, now: float, reason: str) -> CueRecord:
    """A cue with a fresh id (a broadcast's, a tick's)."""
    row = tx.one("insert_cue", {**vars(cue), "now": now})
    assert row is not None, "the cue's id is fresh"
    _event(tx, cue.id, now, "queued", reason)
    return _record(row)


def _move(tx: Tx, cue_id: str, move: Transition, now: float) -> None:
    params = {
        "id": cue_id,
        "state": move.state,
        "outcome": move.outcome,
        "reason": move.reason,
        "now": now,
    }
    tx.run("requeue", params)
    _event(tx, cue_id, now, move.state, move.reason, move.outcome)


def _callback(row: Row, history: tuple[CallbackAttempt, ...] = ()) -> CallbackRecord:
    return CallbackRecord(
        id=row["id"],
        cue_id=row["cue_id"],
        url=row["url"],
        event=row["event"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        history=history,
    )
