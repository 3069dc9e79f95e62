"""livecue: cues from the outside world to live LiveKit voice agents.

The sender side lives here (``CueSender`` to LiveKit directly, ``Client`` and
``AsyncClient`` through the gateway); the agent side is ``livecue.agent``.

Every name is handed on when first used (PEP 562): the sender needs livekit-api
and aiohttp, half a second to import, and even the envelope's imports cost the
command line tens of milliseconds. ``import livecue`` and ``livecue --help`` load
none of it.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from ._client import AsyncClient, Client
    from ._cue import (
        DEFAULT_TOPIC,
        LEGACY_TOPIC,
        MAX_CUE_BYTES,
        RPC_METHOD,
        Cue,
        Outcome,
        OutcomeStatus,
        Policy,
        decode_cue,
        encode_cue,
        new_cue,
    )
    from ._errors import (
        AgentNotListening,
        AuthenticationFailed,
        ConfigError,
        Conflict,
        CueDecodeError,
        CueError,
        CueRefused,
        CueTooLarge,
        DeliveryError,
        DeliveryTimeout,
        GatewayError,
        GatewayUnreachable,
        InvalidRequest,
        LivecueError,
        LiveKitUnreachable,
        NoAgentInRoom,
        NotFound,
        PayloadTooLarge,
        PermissionDenied,
        RateLimited,
        RequestError,
        RoomNotFound,
        ServiceUnavailable,
        SignatureError,
        Unauthorized,
        UsageError,
        WaitTimeout,
    )
    from ._livekit import Credentials, RoomSummary
    from ._signing import SigningKey
    from .sender import CueSender, SendResult, Transport

__version__ = "0.1.0"

# the private module that defines each public name, imported on first access
_EXPORTS = {
    "._cue": (
        "DEFAULT_TOPIC",
        "LEGACY_TOPIC",
        "MAX_CUE_BYTES",
        "RPC_METHOD",
        "Cue",
        "Outcome",
        "OutcomeStatus",
        "Policy",
        "decode_cue",
        "encode_cue",
        "new_cue",
    ),
    "._client": ("AsyncClient", "Client"),
    "._errors": (
        "AgentNotListening",
        "AuthenticationFailed",
        "ConfigError",
        "Conflict",
        "CueDecodeError",
        "CueError",
        "CueRefused",
        "CueTooLarge",
        "DeliveryError",
        "DeliveryTimeout",
        "GatewayError",
        "GatewayUnreachable",
        "InvalidRequest",
        "LivecueError",
        "LiveKitUnreachable",
        "NoAgentInRoom",
        "NotFound",
        "PayloadTooLarge",
        "PermissionDenied",
        "RateLimited",
        "RequestError",
        "RoomNotFound",
        "ServiceUnavailable",
        "SignatureError",
        "Unauthorized",
        "UsageError",
        "WaitTimeout",
    ),
    "._livekit": ("Credentials", "RoomSummary"),
    "._signing": ("SigningKey",),
    ".sender": ("CueSender", "SendResult", "Transport"),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_TOPIC",
    "LEGACY_TOPIC",
    "MAX_CUE_BYTES",
    "RPC_METHOD",
    "AgentNotListening",
    "AsyncClient",
    "AuthenticationFailed",
    "Client",
    "ConfigError",
    "Conflict",
    "Credentials",
    "Cue",
    "CueDecodeError",
    "CueError",
    "CueRefused",
    "CueSender",
    "CueTooLarge",
    "DeliveryError",
    "DeliveryTimeout",
    "GatewayError",
    "GatewayUnreachable",
    "InvalidRequest",
    "LiveKitUnreachable",
    "LivecueError",
    "NoAgentInRoom",
    "NotFound",
    "Outcome",
    "OutcomeStatus",
    "PayloadTooLarge",
    "PermissionDenied",
    "Policy",
    "RateLimited",
    "RequestError",
    "RoomNotFound",
    "RoomSummary",
    "SendResult",
    "ServiceUnavailable",
    "SignatureError",
    "SigningKey",
    "Transport",
    "Unauthorized",
    "UsageError",
    "WaitTimeout",
    "__version__",
    "decode_cue",
    "encode_cue",
    "new_cue",
]
