"""The console's pages: what an operator reads. Each gathers from the gateway's services
and renders one template; nothing here changes state (that is ``actions``)."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ..._errors import LivecueError, NotFound
from ..._livekit import RoomSummary
from ...store import CANCELLABLE, SCOPES, CueFilter, CueRecord
from ..deps import GatewayDep
from ..runtime import Gateway
from ..views import cue_status, cue_summary, encode_cursor
from .auth import Operator, OperatorDep, pages_of
from .filters import OUTCOMES, SOURCES, STATES, cue_query
from .latency import latency_buckets, latency_chart

router = APIRouter()

PAGE = 50
HOUR = 3600.0
ROOMS_TIMEOUT_S = 3.0


async def live_rooms(gateway: Gateway) -> tuple[list[RoomSummary], str | None]:
    """The live rooms, or why LiveKit could not say (the page shows it instead of failing)."""
    try:
        return await asyncio.wait_for(gateway.sender.rooms(), ROOMS_TIMEOUT_S), None
    except asyncio.TimeoutError:
        return [], f"LiveKit did not answer within {ROOMS_TIMEOUT_S:g} s"
    except LivecueError as exc:
        return [], f"LiveKit could not list the rooms: {exc}"


@router.get("/")
async def overview(request: Request, gateway: GatewayDep, operator: OperatorDep) -> Response:
    now = gateway.clock()
    states: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for state, outcome, n in await gateway.store.outcome_counts(since=now - HOUR):
        states[state] += n
        outcomes[outcome or "none yet"] += n
    buckets = latency_buckets(await gateway.store.delivery_times(since=now - HOUR), now=now)
    failed = await gateway.store.list_cues(CueFilter(state="failed"), limit=10)
    expired = await gateway.store.list_cues(CueFilter(state="expired"), limit=10)
    failures = sorted([*failed, *expired], key=lambda r: r.updated_at, reverse=True)[:10]
    rooms, rooms_error = await live_rooms(gateway)
    return pages_of(request).render(
        request,
        "overview.html",
        operator=operator,
        states=sorted(states.items(), key=lambda kv: STATES.index(kv[0])),
        outcomes=sorted(outcomes.items()),
        total=sum(states.values()),
        chart=latency_chart(buckets),
        delivered=sum(b.count for b in buckets),
        rooms=rooms,
        rooms_error=rooms_error,
        failures=[cue_summary(r) for r in failures],
        now=now,
    )


@router.get("/cues")
async def cues(request: Request, gateway: GatewayDep, operator: OperatorDep) -> Response:
    query = cue_query(request.query_params)
    records = await gateway.store.list_cues(query.where, limit=PAGE + 1)
    more = len(records) > PAGE
    records = records[:PAGE]
    return pages_of(request).render(
        request,
        "cues.html",
        operator=operator,
        query=query,
        cues=[cue_summary(r) for r in records],
        next_link=query.link(encode_cursor(records[-1])) if more else None,
        first_link=query.link() if query.where.before else None,
        states=STATES,
        outcomes=OUTCOMES,
        sources=SOURCES,
        hooks=list(gateway.hooks.configured()),
        live=_events(gateway),
    )


def _events(gateway: Gateway, **only: str) -> str:
    """The URL of the live stream for a page rendered now (changes from this moment on)."""
    return "events?" + urllib.parse.urlencode({"after": repr(gateway.clock()), **only})


async def _cue(gateway: Gateway, cue_id: str) -> CueRecord:
    record = await gateway.store.get_cue(cue_id)
    if record is None:
        raise NotFound(f"no cue with id {cue_id!r}")
    return record


CueId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/cues/{cue_id}")
async def cue(
    request: Request, cue_id: CueId, gateway: GatewayDep, operator: OperatorDep
) -> Response:
    record = await _cue(gateway, cue_id)
    status = cue_status(
        record, await gateway.store.history(cue_id), await gateway.store.callbacks_of(cue_id)
    )
    return pages_of(request).render(
        request,
        "cue.html",
        operator=operator,
        cue=status,
        payload=json.dumps(status.cue, indent=2, ensure_ascii=False),
        cancellable=record.state in CANCELLABLE,
        live=_events(gateway, cue=cue_id),
    )


@router.get("/rooms")
async def rooms(
    request: Request,
    gateway: GatewayDep,
    operator: OperatorDep,
    room: Annotated[str, Query(max_length=1024)] = "",
) -> Response:
    return await rooms_page(request, gateway, operator, {"room": room})


async def rooms_page(
    request: Request,
    gateway: Gateway,
    operator: Operator,
    form: dict[str, str],
    *,
    error: str | None = None,
) -> Response:
    """The rooms page; after a refused send, with the form as it was and why."""
    found, rooms_error = await live_rooms(gateway)
    return pages_of(request).render(
        request,
        "rooms.html",
        status=422 if error else 200,
        operator=operator,
        rooms=found,
        rooms_error=rooms_error,
        form={"kind": "reply", "policy": "queue", "text": "", "ttl_s": "", **form},
        default_ttl_s=gateway.settings.default_ttl_s,
        error=error,
    )


@router.get("/hooks")
async def hooks(request: Request, gateway: GatewayDep, operator: OperatorDep) -> Response:
    configured = gateway.hooks.configured()
    recent = {name: await gateway.store.hook_log(name, limit=10) for name in configured}
    return pages_of(request).render(
        request, "hooks.html", operator=operator, hooks=configured, recent=recent
    )


HookName = Annotated[str, Path(max_length=128)]


@router.get("/hooks/{name}")
async def hook(
    request: Request,
    name: HookName,
    gateway: GatewayDep,
    operator: OperatorDep,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    config = gateway.hooks.configured().get(name)
    if config is None:
        raise NotFound(f"no hook named {name!r} is configured")
    entries = await gateway.store.hook_log(name, limit=PAGE + 1, before=before)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    return pages_of(request).render(
        request,
        "hook.html",
        operator=operator,
        name=name,
        hook=config,
        deliveries=entries,
        older=entries[-1].seq if more else None,
    )


@router.get("/hooks/{name}/deliveries/{seq}")
async def delivery(
    request: Request,
    name: HookName,
    seq: Annotated[int, Path(ge=1)],
    gateway: GatewayDep,
    operator: OperatorDep,
) -> Response:
    """One delivery with its body: shown only here, when the operator asks for it."""
    found = await gateway.store.hook_log(name, limit=1, before=seq + 1)
    if not found or found[0].seq != seq:
        raise NotFound(f"hook {name!r} has no delivery {seq}")
    return pages_of(request).render(
        request, "delivery.html", operator=operator, name=name, delivery=found[0]
    )


@router.get("/schedules")
async def schedules(request: Request, gateway: GatewayDep, operator: OperatorDep) -> Response:
    return pages_of(request).render(
        request, "schedules.html", operator=operator, schedules=await gateway.scheduler.describe()
    )


@router.get("/keys")
async def keys_page(
    request: Request,
    gateway: GatewayDep,
    operator: OperatorDep,
    revoked: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return await keys_view(request, gateway, operator, revoked=revoked)


async def keys_view(
    request: Request,
    gateway: Gateway,
    operator: Operator,
    *,
    revoked: str | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    """The keys page; after a refused create, with the form as it was and why."""
    found = await gateway.store.list_keys()
    return pages_of(request).render(
        request,
        "keys.html",
        status=422 if error else 200,
        operator=operator,
        keys=found,
        scopes=SCOPES,
        just_revoked=next((k for k in found if k.id == revoked and k.revoked_at), None),
        form=form or {"name": "", "scopes": [], "callback_url": ""},
        error=error,
    )


@router.get("/keys/{key_id}/revoke")
async def revoke_confirmation(
    request: Request,
    key_id: Annotated[str, Path(min_length=1, max_length=64)],
    gateway: GatewayDep,
    operator: OperatorDep,
) -> Response:
    """Revoking asks first: this page says which key, and whose session it ends."""
    key = next((k for k in await gateway.store.list_keys() if k.id == key_id), None)
    if key is None:
        raise NotFound(f"no API key with id {key_id!r}")
    return pages_of(request).render(request, "key_revoke.html", operator=operator, key=key)
