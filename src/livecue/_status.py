"""The ``livecue.status`` RPC: a sender asks an agent what became of cues it handed over.

A cue's first answer is often not its last (``queued`` behind speech, ``started``
while the agent speaks), so the sender — the gateway, or ``CueSender.wait`` —
asks again, naming the cues and the status it already knows of each. The agent
answers at once if any differs, else waits up to ``wait_ms`` for one to change
(a long poll), then answers with what it has. Ids the agent does not know come
back as ``unknown``: that agent never received the cue, or is a new process.

Requests are signed like cues (and bound to the room), so a room participant
can neither ask nor forge one. Stdlib only and pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._cue import MAX_CUE_BYTES, Outcome, Secret, sign_object, verify_object
from ._errors import CueDecodeError

STATUS_METHOD = "livecue.status"
MAX_IDS = 100
"""Cues asked about in one call: 100 ids of up to 64 characters fit the RPC payload limit."""
MAX_WAIT_MS = 20_000


@dataclass(frozen=True)
class StatusRequest:
    known: Mapping[str, str]
    """Cue id → the status the asker knows (``""`` when it knows none yet)."""
    wait_ms: int = 0


@dataclass(frozen=True)
class StatusAnswer:
    outcomes: tuple[Outcome, ...] = ()
    """The current outcome of every asked cue whose status differs from the known one."""
    unknown: tuple[str, ...] = ()
    """Asked ids this agent has no record of."""


def encode_request(request: StatusRequest, *, secret: Secret, room: str) -> str:
    if len(request.known) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} cues per status call")
    payload = {"v": 1, "room": room, "known": dict(request.known), "wait_ms": request.wait_ms}
    return json.dumps(sign_object(payload, secret), separators=(",", ":"), ensure_ascii=False)


def decode_request(raw: str, *, secret: Secret, room: str) -> StatusRequest:
    """Read and verify a request; raises :class:`CueDecodeError` (or its SignatureError)."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise CueDecodeError("status request is not JSON") from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise CueDecodeError("status request is not a v1 JSON object")
    verify_object(payload, secret)
    if payload.get("room") != room:
        raise CueDecodeError(f"status request is for room {payload.get('room')!r}, not {room!r}")
    known, wait_ms = payload.get("known"), payload.get("wait_ms", 0)
    if not isinstance(known, dict) or len(known) > MAX_IDS:
        raise CueDecodeError(f"status request: known must be an object of at most {MAX_IDS} ids")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in known.items()):
        raise CueDecodeError("status request: known maps cue ids to status strings")
    if type(wait_ms) is not int or not 0 <= wait_ms <= MAX_WAIT_MS:
        raise CueDecodeError(f"status request: wait_ms must be 0..{MAX_WAIT_MS}")
    return StatusRequest(known=known, wait_ms=wait_ms)


def encode_answer(answer: StatusAnswer, *, limit: int = MAX_CUE_BYTES) -> str:
    """The answer as JSON within ``limit`` bytes: outcomes that do not fit are left out
    (the asker still knows their old status, so the next call returns them)."""
    unknown = list(answer.unknown)
    outcomes: list[dict[str, Any]] = []
    size = len(_dump({"outcomes": [], "unknown": unknown}))
    for outcome in answer.outcomes:
        entry = outcome.to_dict()
        grown = len(_dump(entry)) + 1
        if size + grown > limit:
            break
        outcomes.append(entry)
        size += grown
    return _dump({"outcomes": outcomes, "unknown": unknown}).decode()


def decode_answer(raw: str) -> StatusAnswer:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise CueDecodeError("status answer is not JSON") from None
    if not isinstance(payload, dict):
        raise CueDecodeError("status answer is not a JSON object")
    outcomes, unknown = payload.get("outcomes", []), payload.get("unknown", [])
    if not isinstance(outcomes, list) or not isinstance(unknown, list):
        raise CueDecodeError("status answer: outcomes and unknown must be lists")
    if not all(isinstance(u, str) for u in unknown):
        raise CueDecodeError("status answer: unknown must list cue ids")
    return StatusAnswer(tuple(Outcome.from_dict(o) for o in outcomes), tuple(unknown))


def changes(known: Mapping[str, str], current: Mapping[str, Outcome | None]) -> StatusAnswer:
    """What to answer: outcomes that differ from ``known``, and ids with no record (pure)."""
    differ: list[Outcome] = []
    unknown: list[str] = []
    for cue_id, status in known.items():
        outcome = current.get(cue_id)
        if outcome is None:
            unknown.append(cue_id)
        elif outcome.status != status:
            differ.append(outcome)
    return StatusAnswer(tuple(differ), tuple(unknown))


def _dump(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def chunks(ids: Sequence[str], size: int = MAX_IDS) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
