"""Signing in and out, the operator behind each request, and the CSRF check on every form.

A request is an operator's when its session cookie decodes (signed, not expired) and the key
it names still exists, is not revoked and holds the admin scope — checked on every request,
through the gateway's key cache, so revoking a key signs its sessions out within
``KEY_CACHE_S``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from ...store import KeyRecord
from ..deps import GatewayDep
from ..runtime import Gateway
from ..services import keys
from .render import Pages
from .session import ROOT, Session, Sessions, new_session, safe_next

COOKIE = "livecue_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Operator:
    """Who is signed in: the session, the admin key it was opened with, the forms' token."""

    session: Session
    key: KeyRecord
    csrf: str


class SignInRequired(Exception):
    """No valid session: the answer is a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A state-changing request without this session's token."""


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


async def operator_of(request: Request, gateway: Gateway) -> Operator | None:
    """The operator behind ``request``, if its session is valid and its key still admin."""
    sessions = sessions_of(request)
    session = sessions.decode(request.cookies.get(COOKIE), now=gateway.clock())
    if session is None:
        return None
    record = await gateway.api_key(session.key_id)  # None once revoked
    if record is None or "admin" not in record.scopes:
        return None
    return Operator(session, record, sessions.csrf_token(session))


async def require_operator(request: Request, gateway: GatewayDep) -> Operator:
    operator = await operator_of(request, gateway)
    if operator is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(here if request.method == "GET" else ROOT + "/")
    return operator


async def require_form(
    request: Request, operator: Annotated[Operator, Depends(require_operator)]
) -> Operator:
    """The operator of a state-changing request carrying its session's CSRF token (a form
    field, or the ``X-CSRF-Token`` header for scripts)."""
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    if not sessions_of(request).csrf_ok(operator.session, token):
        raise CsrfRefused
    return operator


OperatorDep = Annotated[Operator, Depends(require_operator)]
FormDep = Annotated[Operator, Depends(require_form)]


def sign_in_redirect(request: Request, next_path: str) -> RedirectResponse:
    query = urllib.parse.urlencode({"next": safe_next(next_path)})
    response = RedirectResponse(f"{ROOT}/sign-in?{query}", status_code=303)
    if COOKIE in request.cookies:
        clear_cookie(response, request)
    return response


def set_cookie(response: Response, request: Request, value: str, lifetime_s: float) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(lifetime_s),
        expires=int(lifetime_s),
        path=ROOT,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=ROOT, secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )


router = APIRouter()


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    gateway: GatewayDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
    signed_out: bool = False,
) -> Response:
    if await operator_of(request, gateway) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return pages_of(request).render(
        request, "sign_in.html", next=safe_next(next_path), signed_out=signed_out, error=None
    )


@router.post("/sign-in")
async def sign_in(
    request: Request,
    gateway: GatewayDep,
    key: Annotated[str, Form(max_length=512)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2048)] = "",
) -> Response:
    record = await _admin_key(gateway, key.strip())
    if isinstance(record, str):
        return pages_of(request).render(
            request, "sign_in.html", status=403, next=safe_next(next_path), error=record
        )
    lifetime = gateway.settings.console_session_s
    session = new_session(record.id, now=gateway.clock(), lifetime_s=lifetime)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_cookie(response, request, sessions_of(request).encode(session), lifetime)
    return response


async def _admin_key(gateway: Gateway, token: str) -> KeyRecord | str:
    """The key's record, if ``token`` is a valid admin key; else why it is refused."""
    parsed = keys.parse(token)
    if parsed is None:
        return "That is not an API key: it starts with lck_ (as livecue keys create prints it)."
    key_id, secret = parsed
    record = await gateway.api_key(key_id)
    if record is None or not keys.matches(secret, record.secret_hash):
        return "That key is unknown or revoked."
    if "admin" not in record.scopes:
        return "That key lacks the admin scope: the console needs an admin key."
    return record


@router.post("/sign-out")
async def sign_out(request: Request, _: FormDep) -> Response:
    response = RedirectResponse(f"{ROOT}/sign-in?signed_out=1", status_code=303)
    clear_cookie(response, request)
    return response
