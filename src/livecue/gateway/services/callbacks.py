"""Status callbacks: a cue's final outcome, POSTed to the URL it names, signed the Standard
Webhooks way, retried on a published schedule, every attempt recorded.

The store queues a callback in the same transaction that makes a cue final, so no outcome
goes unreported across crashes and instances. Callbacks are sent by their own loop with
bounded concurrency and a deadline per attempt: a receiver that is down or slow never
holds up a cue.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import posixpath
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from ..._errors import ConfigError, InvalidRequest, ServiceUnavailable
from ..._hook_signatures import sign_standard_webhooks
from ...store import CallbackAttempt, CallbackRecord, Store
from .instances import Instance

logger = logging.getLogger("livecue.gateway.callbacks")

RETRY_SCHEDULE_S: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600)
"""After the first attempt (at once), the waits before each retry: 5 s, 30 s, 2 min,
10 min, 30 min, 1 h — seven attempts over about 1 h 43 min, then the callback fails."""

MAX_URL = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


# -- which URLs may be called -----------------------------------------------------------------


@dataclass(frozen=True)
class _Allowed:
    scheme: str
    host: str
    port: int
    path: str

    def admits(self, scheme: str, host: str, port: int, path: str) -> bool:
        if (scheme, host, port) != (self.scheme, self.host, self.port):
            return False
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path or path.startswith(self.path + "/")


def _parts(url: str, what: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an absolute http(s) URL, or ValueError naming the fault."""
    if len(url) > MAX_URL:
        raise ValueError(f"{what}: is longer than {MAX_URL} characters")
    try:
        split = urllib.parse.urlsplit(url)
        port = split.port
    except ValueError as exc:
        raise ValueError(f"{what}: is not a valid URL ({exc})") from None
    scheme = split.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not split.hostname:
        raise ValueError(f"{what}: must be an absolute http:// or https:// URL")
    if split.username is not None or split.password is not None:
        raise ValueError(f"{what}: must not carry a user name or password")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError(f"{what}: must not contain spaces or control characters")
    path = urllib.parse.unquote(split.path) or "/"
    segments = path.split("/")
    if "." in segments or ".." in segments or "\\" in path:
        raise ValueError(f"{what}: must not contain '.' or '..' path segments")
    # a bracketed IPv6 host or a name; lowercase, as DNS and the allow-list compare them
    host = split.hostname.lower().rstrip(".")
    normal = posixpath.normpath(path)
    if path.endswith("/") and not normal.endswith("/"):
        normal += "/"  # a folder stays a folder: "/cb/" lies under the entry "/cb/"
    return scheme, host, port or _DEFAULT_PORTS[scheme], normal


class AllowList:
    """The callback URLs the operator admits (``LIVECUE_CALLBACK_ALLOW``): URL prefixes such
    as ``https://api.example.com/livecue/``. A URL is admitted when its scheme, host and port
    equal an entry's and its path lies under the entry's path. Empty: callbacks are off."""

    def __init__(self, entries: Sequence[str] = ()) -> None:
        allowed = []
        for entry in entries:
            try:
                scheme, host, port, path = _parts(entry, f"allow-list entry {entry!r}")
            except ValueError as exc:
                raise ConfigError(f"LIVECUE_CALLBACK_ALLOW: {exc}") from None
            allowed.append(_Allowed(scheme, host, port, path))
        self._allowed = tuple(allowed)

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """Entries separated by commas or white space."""
        return cls([e for e in (text or "").replace(",", " ").split() if e])

    def __bool__(self) -> bool:
        return bool(self._allowed)

    def check(self, url: str, field: str = "callback_url") -> str:
        """``url`` if it may be called; else InvalidRequest naming the problem."""
        if not self._allowed:
            raise InvalidRequest(
                f"{field}: callbacks are off on this gateway (its operator sets "
                "LIVECUE_CALLBACK_ALLOW to the URLs that may be called)"
            )
        try:
            parts = _parts(url, field)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if not any(entry.admits(*parts) for entry in self._allowed):
            raise InvalidRequest(f"{field}: {url!r} is not on the gateway's callback allow-list")
        return url


# -- what happens after an attempt (pure) -----------------------------------------------------


def after_attempt(
    attempts: int, status: int | None, *, now: float, schedule: Sequence[float]
) -> tuple[str, float]:
    """(state, next attempt at) after attempt number ``attempts`` answered ``status``
    (None: no answer). A 2xx is delivered; anything else is retried on ``schedule`` until
    it runs out, then the callback has failed."""
    if status is not None and 200 <= status < 300:
        return "delivered", now
    if attempts > len(schedule):
        return "failed", now
    return "pending", now + schedule[attempts - 1]


def parse_schedule(text: str) -> tuple[float, ...]:
    """``LIVECUE_CALLBACK_RETRY_S``: the waits before each retry, comma-separated seconds."""
    try:
        waits = tuple(float(part) for part in text.replace(",", " ").split())
    except ValueError:
        raise ConfigError(
            f"LIVECUE_CALLBACK_RETRY_S: {text!r} is not a list of seconds (e.g. 5,30,120)"
        ) from None
    if any(w < 0 or w != w for w in waits):
        raise ConfigError("LIVECUE_CALLBACK_RETRY_S: a wait cannot be negative")
    return waits


MIN_SECRET_BYTES = 24


def check_secret(secret: str) -> str:
    """A usable Standard Webhooks secret (``whsec_`` and base64 of 24 or more bytes, what
    receivers' libraries expect), else ConfigError."""
    problem = None
    if not secret.startswith("whsec_"):
        problem = "must start with whsec_"
    else:
        try:
            key = base64.b64decode(secret[len("whsec_") :], validate=True)
            if len(key) < MIN_SECRET_BYTES:
                problem = f"must hold at least {MIN_SECRET_BYTES} random bytes"
        except (binascii.Error, ValueError):
            problem = "is not valid base64 after whsec_"
    if problem:
        raise ConfigError(
            f"LIVECUE_CALLBACK_SECRET {problem}: use whsec_ followed by the output of "
            "`openssl rand -base64 32`"
        )
    return secret


# -- sending ----------------------------------------------------------------------------------

Payload = Callable[[CallbackRecord], Awaitable[dict[str, object] | None]]
"""The event's ``data`` for a callback: the cue's record as the API shows it (None: the cue
is gone)."""


class CallbackSender:
    def __init__(
        self,
        store: Store,
        instance: Instance,
        payload: Payload,
        *,
        secret: str | None,
        schedule: Sequence[float] = RETRY_SCHEDULE_S,
        timeout_s: float = 10.0,
        concurrency: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._instance = instance
        self._payload = payload
        self._secret = secret
        self._schedule = tuple(schedule)
        self._timeout_s = timeout_s
        self._concurrency = concurrency
        self._clock = clock
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._secret is None:
            return  # callbacks are off: nothing can be queued (intake refuses the URLs)
        self._client = httpx.AsyncClient(
            follow_redirects=False,  # a redirect could lead off the allow-list
            timeout=self._timeout_s,
            headers={"user-agent": "livecue-callbacks"},
            trust_env=False,  # no proxy from the environment between us and the receiver
        )
        self._task = asyncio.create_task(self._run(), name="livecue-callbacks")

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._inflight:
            # one that does not finish is sent again by whoever takes it over
            _, pending = await asyncio.wait(self._inflight, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                free = self._concurrency - len(self._inflight)
                if free > 0:
                    claimed = await self._store.claim_callbacks(
                        now=self._clock(), limit=free, owner=self._instance.id
                    )
                    for callback in claimed:
                        task = asyncio.create_task(self._send(callback))
                        self._inflight.add(task)
                        task.add_done_callback(self._done)
                    if len(claimed) == free:
                        continue  # there may be more due
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable as exc:
                logger.warning("callbacks paused: %s", exc)
                await asyncio.sleep(1.0)
            except Exception:
                logger.exception("callback pass failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _sleep(self) -> None:
        # polled once a second as well: a cue made final on another instance is due here
        timeout = 1.0
        next_at = await self._store.next_callback_at()
        if next_at is not None:
            timeout = min(timeout, max(0.0, next_at - self._clock()))
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, callback: CallbackRecord) -> None:
        started = self._clock()
        t0 = time.perf_counter()
        status: int | None = None
        gone = False
        error: str | None
        try:
            data = await self._payload(callback)
            if data is None:  # purged meanwhile: nothing left to report
                gone, error = True, "the cue no longer exists"
            else:
                status, error = await self._post(callback, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database away, say: an attempt like any other
            error = f"could not prepare the event ({type(exc).__name__})"
        duration_ms = round((time.perf_counter() - t0) * 1000, 1)
        state, next_at = after_attempt(
            callback.attempts, status, now=self._clock(), schedule=self._schedule
        )
        if gone:
            state = "failed"
        if state == "failed":
            logger.warning(
                "callback for cue %s failed after %d attempts: %s",
                callback.cue_id,
                callback.attempts,
                error,
            )
        attempt = CallbackAttempt(at=started, status=status, duration_ms=duration_ms, error=error)
        await self._record(callback.id, attempt, state, next_at)

    async def _post(
        self, callback: CallbackRecord, data: dict[str, object]
    ) -> tuple[int | None, str | None]:
        """One attempt: (the receiver's status, what went wrong)."""
        assert self._client is not None and self._secret is not None
        event = {"type": callback.event, "timestamp": _iso(callback.created_at), "data": data}
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = sign_standard_webhooks(body, self._secret, callback.id, int(self._clock()))
        headers["content-type"] = "application/json"
        request = self._client.build_request("POST", callback.url, content=body, headers=headers)
        try:
            # the status is all that counts: the body is never read (a receiver could send
            # gigabytes), and closing the stream drops the connection if one was coming
            response = await asyncio.wait_for(
                self._client.send(request, stream=True),
                self._timeout_s,  # the whole exchange, not each read
            )
            await response.aclose()
        except asyncio.TimeoutError:
            return None, f"no answer within {self._timeout_s:g} s"
        except httpx.HTTPError as exc:
            detail = str(exc)
            return None, (f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)[:500]
        status = response.status_code
        return status, (None if 200 <= status < 300 else f"the receiver answered {status}")

    async def _record(
        self, callback_id: str, attempt: CallbackAttempt, state: str, next_at: float
    ) -> None:
        """Keep the attempt however long the database is away (else the callback would be
        sent again, under the same webhook-id, once this instance is gone)."""
        while True:
            try:
                await self._store.callback_sent(
                    callback_id, attempt, state=state, next_attempt_at=next_at, now=self._clock()
                )
                return
            except ServiceUnavailable:
                await asyncio.sleep(1.0)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")
