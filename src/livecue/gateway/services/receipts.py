"""Following each cue to its end once an agent has it.

A cue's first answer is often not its last: ``queued`` behind the agent's speech,
``started`` while it speaks, or nothing at all (a data packet). The gateway asks
the agent itself — the ``livecue.status`` RPC, a long poll per agent — so the
record ends with what the agent finally did, whatever transport carried the cue
and with no settings on the agent. Agents configured with the gateway's URL also
report by HTTP (``POST /v1/cues/{id}/outcome``); both paths meet in
:meth:`Receipts.record`, where the store's compare-and-set keeps the first final
outcome.

When an agent leaves (LiveKit's ``participant_left`` webhook, or found gone when
asked), the cues it had not acted on are delivered again to the next agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable

from ..._cue import Outcome
from ..._errors import (
    Conflict,
    CueRefused,
    DeliveryError,
    LivecueError,
    NotFound,
    ServiceUnavailable,
)
from ...sender import STATUS_WAIT_S
from ...store import FINAL_STATES, Store, Transition, WatchedCue
from .deliverer import Deliverer
from .instances import Instance
from .metrics import Metrics

logger = logging.getLogger("livecue.gateway.receipts")

UNKNOWN_GRACE_S = 3.0
"""A data packet the agent has no record of yet may still be on its way: it is sent again
only after this long."""

POLL_INTERVAL_S = 0.25
"""How often the watcher looks for agents with unfinished cues to ask."""

RETRY_AFTER_S = 1.0
"""How long an agent that could not be asked is left alone before the next try."""

UNKNOWN_RETRY_S = 0.3
"""How long an agent whose answer brought nothing new is left alone (it answers at once
when asked about a cue it has not received yet)."""


class Receipts:
    """The one place a cue's outcome at the agent is recorded."""

    def __init__(
        self, store: Store, metrics: Metrics, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock

    async def record(
        self, cue_id: str, outcome: Outcome | None, *, identity: str | None = None
    ) -> bool:
        """Apply the agent's word on a cue; False if the cue is unknown. A late or older
        outcome is ignored (not an error): the record keeps what it has."""
        now = self._clock()
        record, move = await self._store.record_outcome(
            cue_id,
            None if outcome is None else outcome.status,
            now=now,
            receipt=None if outcome is None else outcome.encode(),
            reason=_reason(outcome),
            identity=identity,
        )
        if record is None:
            return False
        if move is not None:
            self._count(move)
            if record.final:
                self._metrics.cue_duration.observe(max(0.0, now - record.created_at))
        return True

    async def report(self, cue_id: str, outcome: Outcome, *, agent: str | None) -> None:
        """An agent's report over HTTP: recorded if it comes from the agent that has the cue
        (or names none while none has it); NotFound, Conflict otherwise."""
        record = await self._store.get_cue(cue_id)
        if record is None:
            raise NotFound(f"no cue with id {cue_id!r}")
        if agent is None and record.agent_identity is not None:
            # else any holder of an agent key could end, and put words to, another's cue
            raise Conflict(
                f"cue {cue_id!r} is with the agent {record.agent_identity!r}: a report on it "
                "must name that agent (agent)"
            )
        if agent is not None and record.agent_identity not in (None, agent):
            raise Conflict(
                f"cue {cue_id!r} is with the agent {record.agent_identity!r}, not {agent!r}"
            )
        await self.record(cue_id, outcome, identity=agent)

    async def agent_left(
        self, room: str, identity: str, *, only: list[str] | None = None
    ) -> list[tuple[str, Transition]]:
        """``identity`` is gone from ``room`` (or lost the cues in ``only``)."""
        moved = await self._store.agent_left(
            room, identity, now=self._clock(), only=only, lost=only is not None
        )
        for _, move in moved:
            self._count(move)
        if moved:
            logger.info(
                "agent left with unfinished cues",
                extra={"room": room, "agent": identity, "cues": len(moved)},
            )
        return moved

    async def close_overdue(self) -> None:
        for _, move in await self._store.close_overdue(now=self._clock()):
            self._count(move)

    def _count(self, move: Transition) -> None:
        self._metrics.transitions.labels(move.state).inc()
        if move.state in FINAL_STATES:
            self._metrics.outcomes.labels(move.outcome or move.state).inc()


def _reason(outcome: Outcome | None) -> str | None:
    if outcome is None:
        return "sent; no word from the agent yet"
    if outcome.reason:
        return outcome.reason.replace("\x00", "\ufffd")  # text PostgreSQL can hold
    if outcome.merged_into:
        return f"merged into cue {outcome.merged_into}"
    return f"the agent answered {outcome.status}"


class ReceiptWatcher:
    """Asks each agent with unfinished cues what became of them (one long poll per agent)."""

    def __init__(
        self,
        store: Store,
        sender: Deliverer,
        receipts: Receipts,
        instance: Instance,
        *,
        max_agents: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._instance = instance
        self._sender = sender
        self._receipts = receipts
        self._max_agents = max_agents
        self._clock = clock
        self._polls: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._resting: dict[tuple[str, str], float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="livecue-receipts")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._polls.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._pass()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable as exc:
                logger.warning("receipt watcher paused: %s", exc)
            except Exception:
                logger.exception("receipt watcher pass failed")
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_S)

    async def _pass(self) -> None:
        groups: dict[tuple[str, str], list[WatchedCue]] = defaultdict(list)
        for cue in await self._store.watched():
            groups[(cue.room, cue.agent_identity)].append(cue)
        now = time.monotonic()
        for agent, cues in groups.items():
            if agent in self._polls or self._resting.get(agent, 0.0) > now:
                continue
            if not self._instance.mine(agent[0]):
                continue  # another instance asks the agents of this room
            if len(self._polls) >= self._max_agents:
                break
            task = asyncio.create_task(self._poll(agent, cues[:100]))
            self._polls[agent] = task
            task.add_done_callback(functools.partial(self._done, agent))
        for agent in [a for a, until in self._resting.items() if until <= now]:
            del self._resting[agent]

    def _done(self, agent: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._polls.pop(agent, None)
        self._wake.set()

    async def _poll(self, agent: tuple[str, str], cues: list[WatchedCue]) -> None:
        room, identity = agent
        known = {c.id: c.outcome or "" for c in cues}
        try:
            answer = await self._sender.status(room, identity, known, wait_s=STATUS_WAIT_S)
        except asyncio.CancelledError:
            raise
        except CueRefused as exc:
            # the agent is there and refuses to be asked: a call signed as its cues are,
            # so it refused those it never answered too (another signing key, say);
            # waiting changes nothing. Cues it did answer wait for their end as before.
            unanswered = [c.id for c in cues if c.outcome is None]
            for cue_id in self._settled(cues, unanswered):
                refused = Outcome(
                    cue_id=cue_id,
                    status="rejected",
                    reason=f"the agent refused the gateway's status call: {exc.reason}",
                )
                await self._receipts.record(cue_id, refused, identity=identity)
            self._resting[agent] = time.monotonic() + UNKNOWN_RETRY_S
            return
        except DeliveryError as exc:
            await self._unreachable(room, identity, exc)
            return
        except LivecueError as exc:  # an answer that does not decode
            logger.warning("agent %r gave an unreadable status answer: %s", identity, exc)
            self._resting[agent] = time.monotonic() + RETRY_AFTER_S
            return
        for outcome in answer.outcomes:
            await self._receipts.record(outcome.cue_id, outcome, identity=identity)
        for cue_id, why in answer.refused.items():
            if cue_id in self._settled(cues, [cue_id]):  # past the grace: not on its way
                refused = Outcome(
                    cue_id=cue_id, status="rejected", reason=f"the agent refused it: {why}"
                )
                await self._receipts.record(cue_id, refused, identity=identity)
        lost = self._settled(cues, list(answer.unknown))
        if lost:
            # a new process with the same identity, or a packet that never arrived
            await self._receipts.agent_left(room, identity, only=lost)
        if not answer.outcomes:
            # nothing new: what it does not know yet may still be on its way; ask again soon
            self._resting[agent] = time.monotonic() + UNKNOWN_RETRY_S

    def _settled(self, cues: list[WatchedCue], ids: list[str]) -> list[str]:
        """Those of ``ids`` the agent should know by now: sent more than the grace ago (a
        packet may be on its way until then), or answered before."""
        now = self._clock()
        by_id = {c.id: c for c in cues}
        return [
            cue_id
            for cue_id in ids
            if cue_id in by_id
            and not (
                by_id[cue_id].outcome is None and now - by_id[cue_id].updated_at < UNKNOWN_GRACE_S
            )
        ]

    async def _unreachable(self, room: str, identity: str, error: DeliveryError) -> None:
        """The agent did not answer: gone (its cues move on) or just slow (ask again later)."""
        try:
            present = await self._sender.is_present(room, identity)
        except LivecueError:
            present = True  # cannot tell: do not declare it gone
        if not present:
            await self._receipts.agent_left(room, identity)
            return
        logger.debug("status call to %r in %r failed: %s", identity, room, error)
        self._resting[(room, identity)] = time.monotonic() + RETRY_AFTER_S
