"""What the API shows of the configured schedules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from ...store import KeyRecord
from ..deps import GatewayDep, require
from ..schemas import ScheduleOut, TargetOut

router = APIRouter(prefix="/v1", tags=["schedules"])


@router.get("/schedules", response_model=list[ScheduleOut])
async def list_schedules(
    gateway: GatewayDep, _: Annotated[KeyRecord, require("read")]
) -> list[ScheduleOut]:
    """Each schedule: cron, time zone, target, its last tick and the next five."""
    return [
        ScheduleOut(
            name=view.name,
            cron=view.config.cron,
            timezone=view.config.timezone,
            target=TargetOut(**view.config.target.model_dump()),
            last_tick=view.last_tick,
            next_ticks=view.next_ticks,
        )
        for view in await gateway.scheduler.describe()
    ]
