"""The agent's side of the gateway's data-transport API: catch-up and receipts.

Cues sent over the data transport get no answer from LiveKit, so an agent
that knows the gateway reports what it did with each one
(``POST /v1/cues/{id}/outcome``) and, on joining or reconnecting, asks for
the cues it may have missed (``GET /v1/rooms/{room}/pending``). Both need an
API key with the ``agent`` scope.

Nothing here raises: a gateway that is down, slow or refusing costs a
warning in the log (never the key) and an empty answer, never the agent.
No livekit imports: the listener feeds what this returns into its pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from .._cue import Outcome

logger = logging.getLogger("livecue.agent.gateway")

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class GatewayClient:
    """A small client for one gateway, with one HTTP session (closed by :meth:`aclose`).

    ``timeout_s`` bounds each request; ``attempts`` is how many times a request
    that failed in a way worth retrying (unreachable, timeout, 429, 5xx) is tried.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        retry_delay_s: float = 0.25,
    ) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_s, sock_connect=min(2.0, timeout_s), sock_read=timeout_s
        )
        self._attempts = max(1, attempts)
        self._retry_delay_s = retry_delay_s
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"GatewayClient({self._url!r})"

    async def pending(self, room: str) -> list[bytes]:
        """The cues the gateway holds for ``room``, each as wire bytes; [] on any failure."""
        path = f"/v1/rooms/{quote(room, safe='')}/pending"
        answer = await self._request("GET", path, expect=200)
        if answer is None:
            return []
        try:
            cues = json.loads(answer)["cues"]
            if not isinstance(cues, list):
                raise TypeError("'cues' is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("the gateway's pending cues for room %r were unreadable: %s", room, exc)
            return []
        out: list[bytes] = []
        for cue in cues:
            if not isinstance(cue, dict):
                continue
            try:
                out.append(
                    json.dumps(
                        cue, separators=(",", ":"), ensure_ascii=False, allow_nan=False
                    ).encode()
                )
            except (TypeError, ValueError):
                continue
        return out

    async def report(self, outcome: Outcome, *, agent: str | None = None) -> bool:
        """Tell the gateway what the agent (identity ``agent``) did with a cue; False if it
        was not recorded."""
        body: dict[str, Any] = outcome.to_dict()
        del body["cue_id"]
        if agent is not None:
            body["agent"] = agent
        if outcome.reason:
            body["reason"] = outcome.reason[:1000]
        path = f"/v1/cues/{quote(outcome.cue_id, safe='')}/outcome"
        # 404: a cue sent over data by someone other than this gateway; not a failure
        answer = await self._request("POST", path, json_body=body, expect=204, quiet={404})
        return answer is not None

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # -- one request --------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        json_body: dict[str, Any] | None = None,
        quiet: frozenset[int] | set[int] = frozenset(),
    ) -> bytes | None:
        """The answer's body when the status is ``expect``; None (logged) otherwise.

        Answers with a status in ``quiet`` are logged at debug level only.
        """
        what = f"{method} {self._url}{path}"
        for attempt in range(1, self._attempts + 1):
            retry, level = False, logging.WARNING
            try:
                session = self._get_session()
                if session is None:
                    return None
                async with session.request(method, self._url + path, json=json_body) as resp:
                    body = await resp.read()
                    if resp.status == expect:
                        return body
                    detail = _detail(body)
                    retry = resp.status in _RETRY_STATUSES
                    level = logging.DEBUG if resp.status in quiet else logging.WARNING
                    problem = f"answered {resp.status}{': ' + detail if detail else ''}"
            except asyncio.CancelledError:
                raise
            except asyncio.TimeoutError:
                retry, problem = True, "timed out"
            except aiohttp.ClientError as exc:
                retry, problem = True, f"failed: {type(exc).__name__}: {exc}"
            except Exception as exc:  # never into the listener
                retry, problem = False, f"failed: {type(exc).__name__}: {exc}"
            if not retry or attempt == self._attempts or self._closed:
                logger.log(level, "gateway request %s %s (attempt %d)", what, problem, attempt)
                return None
            logger.debug("gateway request %s %s; retrying", what, problem)
            await asyncio.sleep(self._retry_delay_s * 2 ** (attempt - 1))
        return None

    def _get_session(self) -> aiohttp.ClientSession | None:
        if self._closed:
            return None
        if self._session is None:  # made lazily: it needs the running loop
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session


def _detail(body: bytes) -> str:
    """The gateway's error message, if the body has one (short, never a header)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    error = payload.get("error") if isinstance(payload, dict) else None  # {"error": {...}}
    message = error.get("message") if isinstance(error, dict) else None
    return message[:200] if isinstance(message, str) else ""


class ReceiptForwarder:
    """Posts the outcomes of the cues it tracks to the gateway: in the background (the
    caller never waits) and in order per cue."""

    def __init__(
        self,
        client: GatewayClient,
        *,
        agent: Callable[[], str | None] = lambda: None,
        max_tracked: int = 10_000,
    ) -> None:
        self.client = client
        self.agent = agent
        """The agent's identity when a report is sent (known once its room is connected)."""
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._max = max_tracked
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, cue_id: str) -> None:
        self._ids[cue_id] = None
        self._ids.move_to_end(cue_id)
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)

    def tracks(self, cue_id: str) -> bool:
        return cue_id in self._ids

    def forward(self, outcome: Outcome) -> None:
        """Send ``outcome`` if its cue is tracked; never raises."""
        if outcome.cue_id not in self._ids:
            return
        try:
            previous = self._tails.get(outcome.cue_id)
            task = asyncio.get_running_loop().create_task(self._post(previous, outcome))
            self._tails[outcome.cue_id] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._sent, outcome.cue_id))
        except Exception:
            logger.exception("could not schedule the receipt for cue %s", outcome.cue_id)

    async def _post(self, previous: asyncio.Task[None] | None, outcome: Outcome) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # in order per cue, whatever became of it
            await self.client.report(outcome, agent=self.agent())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("reporting cue %s to the gateway failed", outcome.cue_id)

    def _sent(self, cue_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(cue_id) is task:  # else a later receipt is its tail now
            del self._tails[cue_id]

    async def aclose(self, flush_s: float = 2.0) -> None:
        """Give receipts still on their way ``flush_s``, then give up on them; close."""
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=flush_s)
            if late:
                logger.warning(
                    "%d receipts for the gateway were not sent before closing", len(late)
                )
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        await self.client.aclose()
