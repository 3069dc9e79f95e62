"""``livecue.Client`` and ``livecue.AsyncClient``: the gateway's HTTP API from Python.

Both speak to ``livecue serve`` over httpx with one connection pool each, and return the
gateway's own output models (``livecue.gateway.schemas``: ``CueAccepted``,
``BroadcastAccepted``, ``CueStatus``, ``CuePage``, ``CueSummary``, ``RoomOut``), so client
and server read the same definitions. A refusal is an error of livecue's tree with the
gateway's message (``livecue._errors`` draws which status is which); the client does not
retry by itself: an error's ``retryable`` says whether trying again can help, and the same
``idempotency_key`` (or cue ``id``) makes a retried send harmless.

Each request is built once (:class:`_Call`) and run by the sync or the async client, so
the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar

import httpx
from pydantic import TypeAdapter

from . import __version__
from ._client_core import (
    cue_path,
    error_for,
    gateway_settings,
    list_params,
    not_the_api,
    poll_delay,
    room_cues_path,
    unreachable,
    without_none,
)
from ._errors import GatewayError, UsageError, WaitTimeout
from .gateway.schemas import (
    BroadcastAccepted,
    CueAccepted,
    CuePage,
    CueStatus,
    CueSummary,
    RoomOut,
)

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_WAIT_S = 30.0
_ROOMS = TypeAdapter(list[RoomOut])


class CueFields(TypedDict, total=False):
    """A cue's fields besides its text, as ``POST /v1/rooms/{room}/cues`` takes them; every
    one is optional (the gateway's defaults: kind ``reply``, policy ``queue``, its TTL)."""

    kind: str
    data: dict[str, Any]
    policy: Literal["interrupt", "queue", "skip_if_busy"]
    coalesce_key: str
    ttl_s: float
    allow_interruptions: bool
    id: str
    transport: Literal["rpc", "data"]
    agent_name: str
    callback_url: str


class CueFilters(TypedDict, total=False):
    """What ``GET /v1/cues`` narrows the list by; times need their time zone."""

    room: str
    state: Literal[
        "queued", "sending", "held", "retrying", "at_agent", "delivered", "expired", "failed",
        "cancelled",
    ]  # fmt: skip
    outcome: str
    source: Literal["api", "hook", "schedule", "broadcast"]
    hook: str
    created_after: datetime
    created_before: datetime


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request to the gateway and how to read its answer."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _cue_body(text: str | None, cue: CueFields) -> dict[str, Any]:
    return without_none({"text": text, **cue})


def _send(
    room: str, text: str | None, idempotency_key: str | None, cue: CueFields
) -> _Call[CueAccepted]:
    if not room:
        raise UsageError("a room name cannot be empty")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
    return _Call(
        "POST",
        room_cues_path(room),
        CueAccepted.model_validate,
        json=_cue_body(text, cue),
        headers=headers,
    )


def _broadcast(
    text: str | None,
    rooms: builtins.list[str] | None,
    prefix: str | None,
    all_rooms: bool,
    cue: CueFields,
) -> _Call[BroadcastAccepted]:
    if sum([rooms is not None, prefix is not None, all_rooms]) != 1:
        raise UsageError("give exactly one of rooms=, prefix= or all=True")
    body: dict[str, Any] = {"cue": _cue_body(text, cue)}
    if rooms is not None:
        body["rooms"] = list(rooms)
    elif prefix is not None:
        body["prefix"] = prefix
    else:
        body["all"] = True
    return _Call("POST", "/v1/broadcasts", BroadcastAccepted.model_validate, json=body)


def _get(cue_id: str) -> _Call[CueStatus]:
    return _Call("GET", cue_path(cue_id), CueStatus.model_validate)


def _page(cursor: str | None, limit: int, filters: CueFilters) -> _Call[CuePage]:
    params = list_params(cursor=cursor, limit=limit, **filters)
    return _Call("GET", "/v1/cues", CuePage.model_validate, params=params)


def _cancel(cue_id: str) -> _Call[CueStatus]:
    return _Call("DELETE", cue_path(cue_id), CueStatus.model_validate)


def _resend(cue_id: str) -> _Call[CueAccepted]:
    return _Call("POST", cue_path(cue_id, "resend"), CueAccepted.model_validate)


def _rooms() -> _Call[builtins.list[RoomOut]]:
    return _Call("GET", "/v1/rooms", _ROOMS.validate_python)


def _check_wait(timeout: float) -> float:
    if not timeout >= 0 or timeout == float("inf"):
        raise UsageError(f"wait needs a finite timeout of 0 s or more, not {timeout!r}")
    return float(timeout)


class _Base:
    """What both clients share: settings, headers, and reading an answer."""

    def __init__(self, base_url: str | None, api_key: str | None, timeout: float) -> None:
        self.base_url, key = gateway_settings(base_url, api_key, os.environ)
        if not timeout > 0:
            raise UsageError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {
                "Authorization": f"Bearer {key}",
                "User-Agent": f"livecue/{__version__}",
                "Accept": "application/json",
            },
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            "follow_redirects": False,
        }

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"{type(self).__name__}({self.base_url!r})"

    def _request_timeout(self, left: float | None) -> httpx.Timeout:
        """The client's timeout, cut to what a wait has left (never below 1 s)."""
        if left is None:
            return self._options["timeout"]  # type: ignore[no-any-return]
        seconds = min(self.timeout, max(left, 1.0))
        return httpx.Timeout(seconds, connect=min(seconds, 5.0))

    def _failed(self, exc: httpx.HTTPError, timeout: httpx.Timeout) -> Exception:
        if isinstance(exc, httpx.TimeoutException):
            after = {
                httpx.ConnectTimeout: timeout.connect,
                httpx.WriteTimeout: timeout.write,
                httpx.PoolTimeout: timeout.pool,
            }.get(type(exc), timeout.read)
            return unreachable(self.base_url, type(exc).__name__, str(exc), timeout_s=after)
        if isinstance(exc, httpx.TransportError):
            return unreachable(self.base_url, type(exc).__name__, str(exc))
        return GatewayError(f"reading the gateway's answer failed ({type(exc).__name__}: {exc})")

    def _read(self, call: _Call[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise error_for(
                response.status_code,
                response.content,
                reason_phrase=response.reason_phrase,
                retry_after=response.headers.get("retry-after"),
                location=response.headers.get("location"),
                now=datetime.now(timezone.utc),
            )
        try:
            return call.read(response.json())
        except ValueError as exc:  # not JSON, or not the model (pydantic's errors are ValueErrors)
            raise not_the_api(self.base_url, str(exc)) from exc


class Client(_Base):
    """A synchronous client for the livecue gateway (no event loop needed).

    ``base_url`` and ``api_key`` default to ``LIVECUE_GATEWAY_URL`` and ``LIVECUE_API_KEY``
    (a missing one is a :class:`ConfigError`); ``timeout`` bounds each request, in seconds.
    Use it as a context manager, or call :meth:`close`::

        with livecue.Client() as gateway:
            accepted = gateway.send("room-123", "Order 881 has shipped")
            status = gateway.wait(accepted.id, timeout=30)
            print(status.status, status.outcome, status.receipt and status.receipt.said)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self._http = httpx.Client(**self._options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: _Call[T], *, left: float | None = None) -> T:
        timeout = self._request_timeout(left)
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=call.headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise self._failed(exc, timeout) from exc
        return self._read(call, response)

    def send(
        self,
        room: str,
        text: str | None = None,
        *,
        idempotency_key: str | None = None,
        **cue: Unpack[CueFields],
    ) -> CueAccepted:
        """Store a cue for the agent in ``room`` (any LiveKit room name; it is
        percent-encoded). The same ``idempotency_key`` with the same cue returns the cue made
        the first time. ``callback_url`` names where the final outcome is POSTed."""
        return self._run(_send(room, text, idempotency_key, cue))

    def broadcast(
        self,
        text: str | None = None,
        *,
        rooms: builtins.list[str] | None = None,
        prefix: str | None = None,
        all: bool = False,
        **cue: Unpack[CueFields],
    ) -> BroadcastAccepted:
        """One cue to each of ``rooms``, to the live rooms named ``prefix``..., or to every
        live room (``all=True``): exactly one of them."""
        return self._run(_broadcast(text, rooms, prefix, all, cue))

    def get(self, cue_id: str) -> CueStatus:
        """A cue's state, outcome, receipt (what the agent said), history and callbacks."""
        return self._run(_get(cue_id))

    def list_page(
        self, cursor: str | None = None, *, limit: int = 50, **filters: Unpack[CueFilters]
    ) -> CuePage:
        """One page of cues, newest first; pass its ``next_cursor`` for the next one."""
        return self._run(_page(cursor, limit, filters))

    def list(self, *, page_size: int = 100, **filters: Unpack[CueFilters]) -> Iterator[CueSummary]:
        """Every cue that matches ``filters``, newest first, fetched ``page_size`` at a time
        as the iteration goes. Cues made after the first page do not appear."""
        cursor: str | None = None
        while True:
            page = self.list_page(cursor, limit=page_size, **filters)
            yield from page.cues
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel(self, cue_id: str) -> CueStatus:
        """Cancel a cue no agent has yet (state ``cancelled``); a cue an agent has, or a final
        one, is a :class:`Conflict` that says which."""
        return self._run(_cancel(cue_id))

    def resend(self, cue_id: str) -> CueAccepted:
        """A new cue with the same content for the same room, linked by ``resent_from``."""
        return self._run(_resend(cue_id))

    def rooms(self) -> builtins.list[RoomOut]:
        """Live rooms and the agents in them."""
        return self._run(_rooms())

    def wait(self, cue_id: str, timeout: float = DEFAULT_WAIT_S) -> CueStatus:
        """The cue's status once it is final (delivered, expired, failed or cancelled).

        Looks every 0.1 s at first, then less often (at most every 2 s). After ``timeout``
        seconds it raises :class:`WaitTimeout`, which names the cue and its last state.
        """
        deadline = time.monotonic() + _check_wait(timeout)
        attempt = 0
        while True:
            status = self._run(_get(cue_id), left=deadline - time.monotonic())
            if status.final:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(cue_id, timeout, status)
            time.sleep(min(poll_delay(attempt), left))
            attempt += 1


class AsyncClient(_Base):
    """The asyncio twin of :class:`Client`: the same methods, awaited.

    ::

        async with livecue.AsyncClient() as gateway:
            accepted = await gateway.send("room-123", "Order 881 has shipped")
            status = await gateway.wait(accepted.id, timeout=30)
            async for cue in gateway.list(room="room-123", state="failed"):
                print(cue.id, cue.reason)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self._http = httpx.AsyncClient(**self._options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call[T], *, left: float | None = None) -> T:
        timeout = self._request_timeout(left)
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=call.headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise self._failed(exc, timeout) from exc
        return self._read(call, response)

    async def send(
        self,
        room: str,
        text: str | None = None,
        *,
        idempotency_key: str | None = None,
        **cue: Unpack[CueFields],
    ) -> CueAccepted:
        """See :meth:`Client.send`."""
        return await self._run(_send(room, text, idempotency_key, cue))

    async def broadcast(
        self,
        text: str | None = None,
        *,
        rooms: builtins.list[str] | None = None,
        prefix: str | None = None,
        all: bool = False,
        **cue: Unpack[CueFields],
    ) -> BroadcastAccepted:
        """See :meth:`Client.broadcast`."""
        return await self._run(_broadcast(text, rooms, prefix, all, cue))

    async def get(self, cue_id: str) -> CueStatus:
        """See :meth:`Client.get`."""
        return await self._run(_get(cue_id))

    async def list_page(
        self, cursor: str | None = None, *, limit: int = 50, **filters: Unpack[CueFilters]
    ) -> CuePage:
        """See :meth:`Client.list_page`."""
        return await self._run(_page(cursor, limit, filters))

    async def list(
        self, *, page_size: int = 100, **filters: Unpack[CueFilters]
    ) -> AsyncIterator[CueSummary]:
        """Every matching cue, newest first, page by page: ``async for cue in client.list()``."""
        cursor: str | None = None
        while True:
            page = await self.list_page(cursor, limit=page_size, **filters)
            for cue in page.cues:
                yield cue
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def cancel(self, cue_id: str) -> CueStatus:
        """See :meth:`Client.cancel`."""
        return await self._run(_cancel(cue_id))

    async def resend(self, cue_id: str) -> CueAccepted:
        """See :meth:`Client.resend`."""
        return await self._run(_resend(cue_id))

    async def rooms(self) -> builtins.list[RoomOut]:
        """See :meth:`Client.rooms`."""
        return await self._run(_rooms())

    async def wait(self, cue_id: str, timeout: float = DEFAULT_WAIT_S) -> CueStatus:
        """See :meth:`Client.wait`."""
        deadline = time.monotonic() + _check_wait(timeout)
        attempt = 0
        while True:
            status = await self._run(_get(cue_id), left=deadline - time.monotonic())
            if status.final:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(cue_id, timeout, status)
            await asyncio.sleep(min(poll_delay(attempt), left))
            attempt += 1
