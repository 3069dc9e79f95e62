"""Rendering the console's pages: one Jinja2 environment (autoescaped), its filters, and the
security headers every page carries."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ... import __version__
from .session import ROOT

HERE = Path(__file__).parent

HEADERS = {
    # no inline script or style anywhere: JS and CSS are files under /console/static
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
PAGE_HEADERS = {
    **HEADERS,
    # pages show operational data, and the key page a secret: never kept in a cache
    "Cache-Control": "no-store",
}


def when(moment: float | datetime | None, zone: str = "UTC", *, ms: bool = False) -> str:
    """A time as operators read it: ``2026-12-02 04:31:16 UTC`` (or in ``zone``; with
    ``ms``, to the millisecond: a cue's steps are often less than a second apart)."""
    if moment is None:
        return "—"
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    local = moment.astimezone(ZoneInfo(zone))
    seconds = local.strftime("%Y-%m-%d %H:%M:%S")
    if ms:
        seconds += f".{local.microsecond // 1000:03d}"
    return f"{seconds} {local.tzname() or zone}"


def iso(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def clip(text: str | None, limit: int = 80) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is escaped, whatever the template's name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, iso=iso, clip=clip)
    env.globals["version"] = __version__
    return env


class Pages:
    """Renders a template into a page with the console's headers."""

    def __init__(self) -> None:
        self.env = environment()

    def render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        operator = context.setdefault("operator", None)
        context["csrf"] = operator.csrf if operator is not None else ""
        context.setdefault("live", None)
        context.setdefault("signed_out", False)
        html = self.env.get_template(template).render(request=request, base=ROOT, **context)
        return HTMLResponse(html, status_code=status)
