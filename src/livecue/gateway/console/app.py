"""The console as an ASGI app of its own, mounted at ``/console`` by ``create_app``.

Its own app, so that everything under ``/console`` answers in HTML — errors included,
where the API answers in JSON — and carries the console's security headers.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..._errors import CueDecodeError, CueTooLarge, DeliveryError, LivecueError, RequestError
from .. import errors
from ..runtime import Gateway
from . import actions, auth, live, pages
from .render import HEADERS, HERE, PAGE_HEADERS, Pages
from .session import Sessions, console_secret

logger = logging.getLogger("livecue.gateway")


def create_console(gateway: Gateway) -> FastAPI:
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state.gateway = gateway
    console.state.sessions = Sessions(console_secret(gateway.signing_key))
    console.state.pages = Pages()
    for router in (auth.router, pages.router, actions.router, live.router):
        console.include_router(router)
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_errors(console)
    console.add_middleware(Headers)
    return console


async def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page, with the console's navigation when the visitor is signed in."""
    operator = await auth.operator_of(request, request.app.state.gateway)
    return auth.pages_of(request).render(
        request,
        "error.html",
        status=status,
        operator=operator,
        title=HTTPStatus(status).phrase,
        message=message,
    )


def _install_errors(console: FastAPI) -> None:
    @console.exception_handler(auth.SignInRequired)
    async def sign_in(request: Request, exc: auth.SignInRequired) -> Response:
        return auth.sign_in_redirect(request, exc.next_path)

    @console.exception_handler(auth.CsrfRefused)
    async def csrf(request: Request, _: auth.CsrfRefused) -> Response:
        message = (
            "This form's security token is missing or is not this session's, so nothing was "
            "changed. Go back, reload the page and try again."
        )
        return await error_page(request, 403, message)

    @console.exception_handler(RequestError)
    @console.exception_handler(CueTooLarge)
    @console.exception_handler(CueDecodeError)
    @console.exception_handler(DeliveryError)
    async def livecue_error(request: Request, exc: LivecueError) -> Response:
        status, _ = errors.status_of(exc)
        return await error_page(request, status, errors.message_of(exc))

    @console.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return await error_page(request, 422, f"{where}: {first.get('msg')}")

    @console.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return await error_page(request, exc.status_code, message)


class Headers:
    """The console's security headers on every answer, pages kept out of caches; and an
    error no handler knew answered as an HTML page (logged), not the API's JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(scope.get("root_path", "") + "/static/")
        extra = HEADERS if static else PAGE_HEADERS
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            logger.exception("unexpected error in the console", extra={"path": scope["path"]})
            if started:
                raise
            page = HTMLResponse(
                "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
                "<p>An unexpected error; it is logged.</p>",
                500,
            )
            await page(scope, receive, with_headers)
