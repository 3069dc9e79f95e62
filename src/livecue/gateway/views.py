"""Records as the API shows them (output schemas from store records), and page cursors."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from typing import Any

from .._errors import InvalidRequest
from ..store import CallbackRecord, CueEvent, CueRecord, HookLogEntry, KeyRecord
from .schemas import (
    CallbackAttemptOut,
    CallbackOut,
    CueStatus,
    CueSummary,
    HistoryEntry,
    HookDeliveryOut,
    KeyOut,
    Receipt,
    utc,
)


def _receipt_fields(record: CueRecord) -> dict[str, Any]:
    if record.receipt is None:
        return {}
    fields: dict[str, Any] = json.loads(record.receipt)
    return fields


def receipt(record: CueRecord) -> Receipt | None:
    if record.receipt is None:
        return None
    fields = _receipt_fields(record)
    return Receipt(
        said=fields.get("said"),
        speech_started_at=fields.get("speech_started_at"),
        speech_ended_at=fields.get("speech_ended_at"),
        merged_into=fields.get("merged_into"),
    )


def callback_out(callback: CallbackRecord) -> CallbackOut:
    return CallbackOut(
        id=callback.id,
        url=callback.url,
        event=callback.event,
        state=callback.state,
        attempts=callback.attempts,
        next_attempt_at=utc(callback.next_attempt_at) if callback.state == "pending" else None,
        history=[
            CallbackAttemptOut(
                at=utc(a.at), status=a.status, duration_ms=a.duration_ms, error=a.error
            )
            for a in callback.history
        ],
    )


def cue_status(
    record: CueRecord,
    history: Sequence[CueEvent],
    callbacks: Sequence[CallbackRecord] = (),
) -> CueStatus:
    return CueStatus(
        id=record.id,
        room=record.room,
        transport=record.transport,
        status=record.state,
        final=record.final,
        outcome=record.outcome,
        reason=record.reason,
        agent=record.agent_identity,
        receipt=receipt(record),
        attempts=record.attempts,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        delivered_at=utc(record.delivered_at) if record.delivered_at else None,
        expires_at=utc(record.expires_at),
        source=_source(record),
        resent_from=record.resent_from,
        callback_url=record.callback_url,
        cue=json.loads(record.payload),
        history=[
            HistoryEntry(at=utc(h.at), state=h.state, outcome=h.outcome, reason=h.reason)
            for h in history
        ],
        callbacks=[callback_out(c) for c in callbacks],
    )


def cue_summary(record: CueRecord) -> CueSummary:
    payload = json.loads(record.payload)
    return CueSummary(
        id=record.id,
        room=record.room,
        kind=payload.get("kind", ""),
        text=payload.get("text"),
        status=record.state,
        final=record.final,
        outcome=record.outcome,
        reason=record.reason,
        agent=record.agent_identity,
        said=_receipt_fields(record).get("said"),
        source=_source(record),
        attempts=record.attempts,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        resent_from=record.resent_from,
    )


def _source(record: CueRecord) -> str:
    return "broadcast" if record.broadcast_id and record.source == "api" else record.source


def hook_delivery(entry: HookLogEntry, *, with_body: bool) -> HookDeliveryOut:
    return HookDeliveryOut(
        seq=entry.seq,
        received_at=utc(entry.received_at),
        result=entry.result,
        reason=entry.reason,
        delivery_id=entry.delivery_id,
        cue_id=entry.cue_id,
        body=entry.body if with_body else None,
    )


def key_out(key: KeyRecord) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        scopes=sorted(key.scopes),
        created_at=utc(key.created_at),
        revoked_at=utc(key.revoked_at) if key.revoked_at else None,
        callback_url=key.callback_url,
    )


# -- cursors: where a page ended, opaque to clients ---------------------------------------


def encode_cursor(record: CueRecord) -> str:
    raw = json.dumps([record.created_at, record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """(created_at, id) of a cursor this API gave; InvalidRequest for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, cue_id = json.loads(raw)
        if isinstance(at, (int, float)) and not isinstance(at, bool) and isinstance(cue_id, str):
            when = float(at)  # OverflowError for a 400-digit integer
            cue_id.encode()  # UnicodeEncodeError for a lone surrogate
            if math.isfinite(when) and 0 <= len(cue_id) <= 64:
                return when, cue_id
    except (ValueError, TypeError, OverflowError, binascii.Error):  # UnicodeError is a ValueError
        pass
    raise InvalidRequest("cursor: not a cursor this API gave (pass next_cursor as it is)")
