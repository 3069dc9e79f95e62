"""livecue: cues from the outside world to live LiveKit voice agents.

The sender side lives here; the agent side is ``livecue.agent``.
"""

from __future__ import annotations

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
)
from ._livekit import Credentials, RoomSummary
from ._signing import SigningKey
from .sender import CueSender, SendResult, Transport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TOPIC",
    "LEGACY_TOPIC",
    "MAX_CUE_BYTES",
    "RPC_METHOD",
    "AgentNotListening",
    "AuthenticationFailed",
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
    "__version__",
    "decode_cue",
    "encode_cue",
    "new_cue",
]
