"""Cron schedules: each tick sends a cue to a room, a room prefix or every live room.

A tick fires in one transaction that records the firing and stores its cues; the
firing's key — the schedule and the tick's wall-clock time in the schedule's zone —
is unique in the database. So a restart resumes right after the last tick (neither
skipping one nor repeating it), several gateways on one database fire each tick once,
and on the night the clocks go back the repeated hour does not fire a daily
schedule twice. On the night they go forward, a time that does not exist (02:30 in
Europe/Berlin) fires at the first instant after the gap (03:00 local), once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

from ..._errors import ConfigError
from ...store import Store
from ..config import ScheduleConfig
from ..templates import TemplateError
from .cue_templates import CueRenderer
from .intake import Intake, Origin

logger = logging.getLogger("livecue.gateway.schedules")

MAX_CATCH_UP = 100
"""At most this many missed ticks are fired after a long stop, newest first kept."""


def validate_cron(expression: str) -> None:
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}")


def due_ticks(
    cron: str, zone: str, *, last: datetime | None, now: datetime, catch_up: timedelta
) -> list[datetime]:
    """Ticks to fire now, oldest first (pure).

    With no tick fired before, nothing is due until the first tick after ``now``
    arrives... so the first call returns []. Missed ticks older than
    ``catch_up`` (the cue's lifetime: they would arrive expired) are not fired.
    """
    if last is None:
        return []
    it = croniter(cron, last.astimezone(ZoneInfo(zone)))
    ticks: list[datetime] = []
    while True:
        tick: datetime = it.get_next(datetime)
        if tick > now:
            break
        if now - tick <= catch_up:
            ticks.append(tick)
    return ticks[-MAX_CATCH_UP:]


def wall_clock(tick: datetime, zone: str) -> str:
    """A tick's name: its local wall-clock time in ``zone`` (what a person set it for)."""
    return tick.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat(timespec="seconds")


def next_tick(cron: str, zone: str, after: datetime) -> datetime:
    result: datetime = croniter(cron, after.astimezone(ZoneInfo(zone))).get_next(datetime)
    return result


def upcoming_ticks(cron: str, zone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` ticks after ``after`` (pure)."""
    it = croniter(cron, after.astimezone(ZoneInfo(zone)))
    return [it.get_next(datetime) for _ in range(count)]


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as an operator sees it: its configuration, the last tick it fired (None:
    never) and its next ticks."""

    name: str
    config: ScheduleConfig
    last_tick: datetime | None
    next_ticks: list[datetime]


class Scheduler:
    def __init__(
        self,
        schedules: dict[str, ScheduleConfig],
        store: Store,
        intake: Intake,
        renderer: CueRenderer,
        resolve_rooms: Callable[[str | None], Awaitable[list[str]]],
        *,
        default_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, schedule in schedules.items():
            try:
                validate_cron(schedule.cron)
                renderer.compile(schedule.cue, f"schedules.{name}")
            except (ValueError, TemplateError) as exc:
                raise ConfigError(f"schedule {name!r}: {exc}") from None
        self._schedules = schedules
        self._store = store
        self._intake = intake
        self._renderer = renderer
        self._resolve_rooms = resolve_rooms
        self._default_ttl_s = default_ttl_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=timezone.utc)

    async def describe(self, *, upcoming: int = 5) -> list[ScheduleView]:
        now = self._now()
        views = []
        for name, schedule in sorted(self._schedules.items()):
            # not last_tick, which also moves past ticks skipped or not yet due at start
            last = await self._store.last_fired(name)
            views.append(
                ScheduleView(
                    name=name,
                    config=schedule,
                    last_tick=None if last is None else datetime.fromtimestamp(last, timezone.utc),
                    next_ticks=upcoming_ticks(schedule.cron, schedule.timezone, now, upcoming),
                )
            )
        return views

    async def start(self) -> None:
        if self._schedules:
            self._task = asyncio.create_task(self._run(), name="livecue-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        # a schedule never fired before starts counting from now
        for name in self._schedules:
            if await self._store.last_tick(name) is None:
                await self._store.advance_tick(name, self._clock())
        while True:
            try:
                await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("schedule pass failed")
            await asyncio.sleep(self._seconds_to_next())

    def _seconds_to_next(self) -> float:
        now = self._now()
        upcoming = [next_tick(s.cron, s.timezone, now) for s in self._schedules.values()]
        return max(0.01, min(60.0, (min(upcoming) - now).total_seconds() + 0.005))

    async def fire_due(self) -> int:
        """Fire every due tick of every schedule; returns the cues made.

        A schedule that fails (LiveKit unreachable for its room prefix, a template that
        cannot render) is logged and tried again on the next pass; the others still fire.
        """
        made = 0
        now = self._now()  # one instant for the whole pass, so no tick falls between reads
        for name, schedule in self._schedules.items():
            try:
                made += await self._fire_due_ticks(name, schedule, now)
            except Exception:
                logger.exception("schedule %r failed; its tick is tried again", name)
        return made

    async def _fire_due_ticks(self, name: str, schedule: ScheduleConfig, now: datetime) -> int:
        stamp = await self._store.last_tick(name)
        if stamp is None:
            return 0
        made = 0
        last = datetime.fromtimestamp(stamp, tz=timezone.utc)
        catch_up = timedelta(seconds=schedule.cue.ttl_s or self._default_ttl_s)
        for tick in due_ticks(
            schedule.cron, schedule.timezone, last=last, now=now, catch_up=catch_up
        ):
            made += await self._fire(name, schedule, tick)
            await self._store.advance_tick(name, tick.timestamp())
        # ticks missed for longer than a cue lives are skipped on purpose: move past them
        latest = _latest_tick(schedule, now)
        if latest > last:
            await self._store.advance_tick(name, latest.timestamp())
        return made

    async def _fire(self, name: str, schedule: ScheduleConfig, tick: datetime) -> int:
        target = schedule.target
        if target.room is not None:
            rooms = [target.room]
        else:
            rooms = await self._resolve_rooms(target.prefix)
        tick_text = tick.isoformat()
        cues = []
        for room in rooms:
            context = {"schedule": name, "tick": tick_text, "room": room}
            cue = self._renderer.render(
                schedule.cue,
                context,
                now=tick,
                default_ttl_s=self._default_ttl_s,
                owner=f"schedules.{name}",
            )
            cues.append(self._intake.prepare(room, cue, origin=Origin(source=f"schedule:{name}")))
        fired = await self._store.fire_tick(
            name,
            wall_clock(tick, schedule.timezone),
            at=tick.timestamp(),
            cues=cues,
            now=self._clock(),
        )
        if fired is None:
            return 0  # fired already: on another instance, or as the same wall-clock time
        logger.info(
            "schedule fired", extra={"schedule": name, "tick": tick_text, "rooms": len(rooms)}
        )
        return len(fired)


def _latest_tick(schedule: ScheduleConfig, now: datetime) -> datetime:
    """The most recent tick at or before ``now``."""
    it = croniter(schedule.cron, now.astimezone(ZoneInfo(schedule.timezone)))
    result: datetime = it.get_prev(datetime)
    return result
