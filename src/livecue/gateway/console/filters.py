"""The cues page's filter form: query parameters to a :class:`CueFilter`, and back to links.

Pure. A value that does not parse is named in ``errors`` and ignored, so the page still
shows a list (a browser form cannot send a wrong type, but a pasted link can).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import cast, get_args

from ..._errors import InvalidRequest
from ...store import CueFilter, CueState, Source
from ..views import decode_cursor

STATES: tuple[str, ...] = get_args(CueState)
SOURCES: tuple[str, ...] = get_args(Source)
OUTCOMES = (
    "queued",
    "started",
    "applied",
    "coalesced",
    "interrupted",
    "skipped",
    "expired",
    "duplicate",
    "rejected",
)
FIELDS = ("room", "state", "outcome", "source", "hook", "created_after", "created_before")


@dataclass(frozen=True)
class CueQuery:
    values: dict[str, str]
    """The form's fields as given (blank ones left out): what the form and links show."""
    where: CueFilter
    errors: list[str] = field(default_factory=list)

    def link(self, cursor: str | None = None) -> str:
        """The query string of this filter (and a page's cursor), for links."""
        params = dict(self.values)
        if cursor:
            params["cursor"] = cursor
        return urllib.parse.urlencode(params)


def parse_time(text: str) -> float:
    """A time from the form (``2026-12-02T10:00``, UTC unless an offset is given)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def cue_query(params: Mapping[str, str]) -> CueQuery:
    values = {k: params[k].strip() for k in FIELDS if params.get(k, "").strip()}
    errors: list[str] = []

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        value = values.get(name)
        if value is not None and value not in allowed:
            errors.append(f"{name}: {value!r} is not one of {', '.join(allowed)}")
            del values[name]
            return None
        return value

    def moment(name: str) -> float | None:
        if name not in values:
            return None
        try:
            return parse_time(values[name])
        except ValueError:
            errors.append(f"{name}: {values.pop(name)!r} is not a date and time")
            return None

    before: tuple[float, str] | None = None
    if params.get("cursor"):
        try:
            before = decode_cursor(params["cursor"])
        except InvalidRequest as exc:
            errors.append(str(exc))
    state = choice("state", STATES)
    outcome = choice("outcome", OUTCOMES)
    source = choice("source", SOURCES)
    where = CueFilter(
        room=values.get("room"),
        state=state,
        outcome=outcome,
        source=cast("Source | None", source),
        hook=values.get("hook"),
        created_after=moment("created_after"),
        created_before=moment("created_before"),
        before=before,
    )
    return CueQuery(values, where, errors)
