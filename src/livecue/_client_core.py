"""The gateway client's pure parts: settings, paths, query parameters, errors, polling.

No I/O and no httpx here: ``livecue._client`` feeds what these return into its HTTP
requests, and unit tests check them directly. Stdlib only, so the command line can use
them before it decides what else to import.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

from ._cue import ID_PATTERN, MAX_ID
from ._env import KEY_VARIABLE, URL_VARIABLE
from ._errors import (
    AuthenticationFailed,
    ConfigError,
    Conflict,
    GatewayError,
    GatewayUnreachable,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestError,
    ServiceUnavailable,
    UsageError,
)

DEFAULT_RETRY_AFTER_S = 1.0
"""A 429 without a readable Retry-After: wait this long."""

# HTTP status -> the error it becomes; the inverse of livecue.gateway.errors.STATUS
_ERROR_OF_STATUS: dict[int, type[RequestError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    503: ServiceUnavailable,
}


# -- settings ---------------------------------------------------------------------------


def gateway_settings(
    base_url: str | None, api_key: str | None, env: Mapping[str, str | None]
) -> tuple[str, str]:
    """The gateway's URL and the API key: the arguments, else ``LIVECUE_GATEWAY_URL`` and
    ``LIVECUE_API_KEY`` from ``env``. A missing one, or a URL that is not http(s), is a
    :class:`ConfigError` that names what to set."""
    url = base_url if base_url is not None else env.get(URL_VARIABLE)
    key = api_key if api_key is not None else env.get(KEY_VARIABLE)
    if not url:
        raise ConfigError(f"no gateway URL: pass base_url or set {URL_VARIABLE}")
    check_url(url, URL_VARIABLE if base_url is None else "the gateway URL")
    if not key:
        raise ConfigError(f"no API key for the gateway: pass api_key or set {KEY_VARIABLE}")
    return url.rstrip("/"), key


def check_url(url: str, what: str) -> None:
    """A gateway URL is ``http(s)://host[:port][/prefix]``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ConfigError(f"{what} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} {url!r} is not an http(s) URL (like http://127.0.0.1:8080)")
    if parts.query or parts.fragment:
        raise ConfigError(f"{what} {url!r} has a query or fragment; give the base URL only")


# -- paths and parameters ---------------------------------------------------------------


def segment(value: str) -> str:
    """``value`` as one path segment: every reserved character percent-encoded (a room
    name may hold ``/``, ``?``, ``%``, spaces and any letters), and a name that is all
    dots too, since ``.`` and ``..`` would otherwise be read as relative paths."""
    if value in (".", ".."):
        return "%2E" * len(value)
    return quote(value, safe="")


def room_cues_path(room: str) -> str:
    return f"/v1/rooms/{segment(room)}/cues"


def cue_path(cue_id: str, action: str = "") -> str:
    if not cue_id:
        raise UsageError("a cue id cannot be empty")
    if len(cue_id) > MAX_ID or not re.fullmatch(ID_PATTERN, cue_id):
        raise UsageError(
            f"not a cue id: {cue_id!r} (up to {MAX_ID} letters A-Z a-z, digits and . _ : -)"
        )
    return f"/v1/cues/{segment(cue_id)}" + (f"/{action}" if action else "")


def without_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A request body: the fields that are set (the gateway applies its defaults to the rest)."""
    return {name: value for name, value in fields.items() if value is not None}


def _moment(name: str, value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(
            f"{name} needs a time zone (datetime.now(timezone.utc), not datetime.now())"
        )
    return value.astimezone(timezone.utc).isoformat()


def list_params(
    *,
    room: str | None = None,
    state: str | None = None,
    outcome: str | None = None,
    source: str | None = None,
    hook: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, str]:
    """The query of ``GET /v1/cues``: the filters that are set, times in UTC ISO 8601."""
    if limit is not None and not 1 <= limit <= 500:
        raise UsageError(f"a page holds 1 to 500 cues, not {limit}")
    params = without_none(
        {
            "room": room,
            "state": state,
            "outcome": outcome,
            "source": source,
            "hook": hook,
            "cursor": cursor,
            "limit": None if limit is None else str(limit),
        }
    )
    if created_after is not None:
        params["created_after"] = _moment("created_after", created_after)
    if created_before is not None:
        params["created_before"] = _moment("created_before", created_before)
    return params


# -- errors -------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, *, now: datetime) -> float:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date
    (RFC 9110). Missing or unreadable: :data:`DEFAULT_RETRY_AFTER_S`."""
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER_S
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER_S
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - now).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return DEFAULT_RETRY_AFTER_S
    return seconds


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    """The ``code`` and ``message`` of the gateway's error body, if it is one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None
    code, message = error.get("code"), error.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) and message.strip() else None,
    )


def _snippet(body: bytes, limit: int = 200) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_for(
    status: int,
    body: bytes,
    *,
    reason_phrase: str = "",
    retry_after: str | None = None,
    location: str | None = None,
    now: datetime,
) -> RequestError:
    """The error an answer that is not a success stands for, with the gateway's own message
    (or, from something other than the gateway, what it said)."""
    code, message = _error_fields(body)
    if message is None:
        said = _snippet(body)
        message = f"the gateway answered {status} {reason_phrase}".rstrip()
        if 300 <= status < 400 and location:
            message += f" (a redirect to {location}: give that URL as the gateway's)"
        elif said:
            message += f": {said}"
    if status == 429:
        return RateLimited(
            message, retry_after_seconds(retry_after, now=now), status=status, code=code
        )
    cls = _ERROR_OF_STATUS.get(status)
    if cls is None:
        cls = GatewayError if status >= 500 else RequestError
    return cls(message, status=status, code=code)


def not_the_api(url: str, detail: str) -> GatewayError:
    """A 2xx answer that is not what the gateway's API answers (another server at the URL?)."""
    return GatewayError(
        f"the answer from {url} is not the livecue gateway's ({_snippet(detail.encode())})"
    )


def unreachable(
    base_url: str, kind: str, detail: str, *, timeout_s: float | None = None
) -> GatewayUnreachable:
    """No answer from the gateway: what happened, in one sentence. ``timeout_s``: the
    request timed out after that long (a request that timed out may have been done)."""
    if timeout_s is not None:
        return GatewayUnreachable(
            f"no answer from the gateway at {base_url} within {timeout_s:g} s ({kind})"
        )
    detail = " ".join(detail.split())
    return GatewayUnreachable(
        f"cannot reach the gateway at {base_url} ({kind}" + (f": {detail})" if detail else ")")
    )


# -- waiting ------------------------------------------------------------------------------

POLL_FIRST_S = 0.1
POLL_FACTOR = 1.5
POLL_CAP_S = 2.0


def poll_delay(attempt: int) -> float:
    """Seconds between looks at a cue that is not final yet: 0.1 s after the first look,
    half as long again each time, at most 2 s. A cue usually ends within seconds, so the
    first looks come quickly; a long wait costs one request every 2 s."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return min(POLL_CAP_S, POLL_FIRST_S * POLL_FACTOR ** min(attempt, 64))
