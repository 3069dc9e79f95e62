"""Records as the API shows them (output schemas from store records)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..store import CueEvent, CueRecord
from .schemas import CueStatus, HistoryEntry, Receipt, utc


def receipt(record: CueRecord) -> Receipt | None:
    if record.receipt is None:
        return None
    fields = json.loads(record.receipt)
    return Receipt(
        said=fields.get("said"),
        speech_started_at=fields.get("speech_started_at"),
        speech_ended_at=fields.get("speech_ended_at"),
        merged_into=fields.get("merged_into"),
    )


def cue_status(record: CueRecord, history: Sequence[CueEvent]) -> CueStatus:
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
        cue=json.loads(record.payload),
        history=[
            HistoryEntry(at=utc(h.at), state=h.state, outcome=h.outcome, reason=h.reason)
            for h in history
        ],
    )
