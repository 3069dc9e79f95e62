"""One exception tree for everything livecue raises.

::

    LivecueError
    ├── ConfigError                 missing or unusable settings (credentials, URL)
    ├── UsageError                  an option the call cannot honour (also a ValueError)
    ├── CueError                    the cue itself is wrong; retrying cannot help
    │   ├── CueDecodeError          bytes that are not a valid cue (``reason`` says why)
    │   │   └── SignatureError      HMAC required and missing or wrong
    │   └── CueTooLarge             encoded cue over the 15 KiB packet/RPC limit
    ├── DeliveryError               the cue could not be handed to the agent
    │   ├── RoomNotFound
    │   ├── NoAgentInRoom
    │   ├── AgentNotListening       an agent is there but has not attached livecue (yet)
    │   ├── Unauthorized            LiveKit refused the credentials
    │   ├── LiveKitUnreachable      retryable: connection refused, DNS, 5xx
    │   ├── DeliveryTimeout         retryable: no answer in time
    │   │   └── WaitTimeout         retryable: a cue not final when a client's wait ends
    │   └── CueRefused              the agent answered, with outcome ``rejected``
    └── RequestError                the gateway will not or cannot do what a request asks
        ├── InvalidRequest          400, 422: a field, body or name that is not valid (named)
        ├── NotFound                404: no such cue, hook or key
        ├── Conflict                409: the request contradicts the record (cue at the agent)
        ├── AuthenticationFailed    401: no, bad or revoked API key; a webhook that fails
        ├── PermissionDenied        403: the API key lacks the scope
        ├── PayloadTooLarge         413: the request body is over the limit
        ├── RateLimited             429, retryable: too many requests; ``retry_after_s`` says when
        ├── ServiceUnavailable      503, retryable: the database or LiveKit is down
        │   └── GatewayUnreachable  retryable: no connection to the gateway, no answer in time
        └── GatewayError            other 5xx, retryable; or an answer that is not the API's

Foreign errors (aiohttp, httpx, ``livekit.api.ServerError``, sqlite3, psycopg) are
translated at the boundary, and kept as ``__cause__``. The gateway's services
raise ``RequestError``s; HTTP statuses are chosen only at its edge
(``livecue.gateway.errors``), and the gateway client (``livecue.Client``) maps them
back by the statuses drawn above: the server's message is the error's, and
``status`` and ``code`` keep the HTTP status and the code of its JSON body (other 4xx
statuses are a plain ``RequestError``). httpx's connection errors and timeouts become
``GatewayUnreachable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .gateway.schemas import CueStatus


class LivecueError(Exception):
    """Base of every error livecue raises."""

    retryable: bool = False


class ConfigError(LivecueError):
    """Settings are missing or unusable (for example no LIVEKIT_URL)."""


class UsageError(LivecueError, ValueError):
    """An option the call cannot honour, such as a data-only option on the rpc transport."""


class CueError(LivecueError):
    """The cue is invalid; sending it again cannot succeed."""


class CueDecodeError(CueError):
    """Bytes that do not decode to a valid cue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CueTooLarge(CueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"cue is {size} bytes encoded, over the {limit}-byte limit")
        self.size = size
        self.limit = limit


class SignatureError(CueDecodeError):
    """A signature is required and is missing, malformed or wrong."""


class DeliveryError(LivecueError):
    """The cue could not be handed to the agent in ``room``."""

    def __init__(self, message: str, *, room: str | None = None) -> None:
        super().__init__(message)
        self.room = room


class RoomNotFound(DeliveryError):
    def __init__(self, room: str) -> None:
        super().__init__(f"room {room!r} does not exist on the LiveKit server", room=room)


class NoAgentInRoom(DeliveryError):
    def __init__(self, room: str, agent_name: str | None = None) -> None:
        who = f"agent named {agent_name!r}" if agent_name else "agent"
        super().__init__(f"room {room!r} has no {who} in it", room=room)
        self.agent_name = agent_name


class AgentNotListening(DeliveryError):
    """The agent answered RPC but has no livecue method: ``attach()`` not called (yet).

    Not retryable for a one-off send; the gateway retries it, since an agent joins
    (and its held cues are released) a moment before its code attaches livecue.
    """

    def __init__(self, room: str | None, identity: str | None) -> None:
        super().__init__(
            f"the agent {identity!r} does not listen for livecue cues (no RPC method)", room=room
        )
        self.identity = identity


class Unauthorized(DeliveryError):
    def __init__(self, detail: str = "", *, room: str | None = None) -> None:
        msg = "LiveKit refused the API key and secret"
        super().__init__(f"{msg} ({detail})" if detail else msg, room=room)


class LiveKitUnreachable(DeliveryError):
    retryable = True


class DeliveryTimeout(DeliveryError):
    retryable = True


class WaitTimeout(DeliveryTimeout):
    """A client's ``wait()`` ran out before the cue was final: waiting longer may help.

    ``last`` is the cue's latest status (a ``CueStatus``), whose ``status`` says where
    it was: ``held`` (no agent yet), ``at_agent`` (the agent has it), and so on.
    """

    def __init__(self, cue_id: str, timeout_s: float, last: CueStatus) -> None:
        where = f"{last.status}" + (f", outcome {last.outcome}" if last.outcome else "")
        reason = f": {last.reason}" if last.reason else ""
        super().__init__(
            f"cue {cue_id!r} is not final after {timeout_s:g} s; its last state is {where}{reason}",
            room=last.room,
        )
        self.cue_id = cue_id
        self.timeout_s = timeout_s
        self.last = last


class CueRefused(DeliveryError):
    """The agent received the cue and answered ``rejected``."""

    def __init__(self, reason: str, *, room: str | None = None) -> None:
        super().__init__(f"the agent refused the cue: {reason}", room=room)
        self.reason = reason


class RequestError(LivecueError):
    """The gateway will not, or cannot, do what a request asks.

    Raised by the client, ``status`` is the HTTP status of the gateway's answer and
    ``code`` the code in its body (``"not_found"``); both are None where there was no
    answer, and in the gateway itself.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class InvalidRequest(RequestError):
    """A field, body or name that is not valid; the message names it."""


class NotFound(RequestError):
    """No such cue, hook or key."""


class Conflict(RequestError):
    """The request contradicts the record (cancelling a cue the agent already has)."""


class AuthenticationFailed(RequestError):
    """No, malformed, unknown or revoked API key; a webhook whose signature does not verify."""


class PermissionDenied(RequestError):
    """The API key lacks the scope the request needs."""


class PayloadTooLarge(RequestError):
    """The request body is over the gateway's limit."""


class RateLimited(RequestError):
    """Too many requests (per API key, or per room); try again after ``retry_after_s``."""

    retryable = True

    def __init__(
        self,
        message: str,
        retry_after_s: float,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(RequestError):
    """The gateway cannot serve now (its database or LiveKit is unreachable)."""

    retryable = True


class GatewayUnreachable(ServiceUnavailable):
    """No answer from the gateway: connection refused, a name that does not resolve, or
    a timeout. A request that timed out may have been done: send again with the same
    ``Idempotency-Key`` (or cue id) to make the retry harmless."""


class GatewayError(RequestError):
    """The gateway answered with an unexpected server error (a 5xx other than 503), or
    with something that is not its API's answer (a proxy's page, say)."""

    retryable = True
