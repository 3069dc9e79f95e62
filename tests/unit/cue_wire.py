"""A valid v1 cue payload to vary field by field, shared by the envelope tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def wire(**fields: Any) -> bytes:
    """A valid v1 payload with ``fields`` changed; a value of ``...`` removes the field."""
    payload: dict[str, Any] = {
        "v": 1,
        "id": "cue-1",
        "kind": "say",
        "text": "Hello",
        "policy": "queue",
        "created_at": "2024-01-02T03:04:05.000Z",
        "expires_at": "2024-01-02T03:05:05.000Z",
    }
    for name, value in fields.items():
        if value is ...:
            payload.pop(name, None)
        else:
            payload[name] = value
    return json.dumps(payload).encode()
