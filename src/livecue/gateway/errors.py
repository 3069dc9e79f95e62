"""The one place livecue's errors become HTTP answers: ``{"error": {"code", "message"}}``.

Services raise errors of livecue's tree (``RequestError`` and friends, ``CueDecodeError``,
``CueTooLarge``); nothing below the routes knows about HTTP statuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import (
    AuthenticationFailed,
    Conflict,
    CueDecodeError,
    CueTooLarge,
    DeliveryError,
    InvalidRequest,
    LivecueError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RequestError,
    ServiceUnavailable,
)

# error class -> (HTTP status, the code in the JSON body); the most specific class wins
STATUS: dict[type[LivecueError], tuple[int, str]] = {
    InvalidRequest: (422, "invalid_request"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    AuthenticationFailed: (401, "unauthenticated"),
    PermissionDenied: (403, "forbidden"),
    PayloadTooLarge: (413, "payload_too_large"),
    RateLimited: (429, "rate_limited"),
    ServiceUnavailable: (503, "unavailable"),
    CueTooLarge: (413, "cue_too_large"),
    CueDecodeError: (422, "invalid_cue"),
    RequestError: (400, "bad_request"),
    # LiveKit unreachable, refusing our key, or too slow, while serving a request
    DeliveryError: (503, "livekit_unavailable"),
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def status_of(error: LivecueError) -> tuple[int, str]:
    """The HTTP status and error code for one of livecue's errors."""
    return next(
        (STATUS[cls] for cls in type(error).__mro__ if cls in STATUS), (500, "internal_error")
    )


def message_of(error: LivecueError) -> str:
    return error.reason if isinstance(error, CueDecodeError) else str(error)


def answer(error: LivecueError) -> JSONResponse:
    """The HTTP answer for one of livecue's errors."""
    status, code = status_of(error)
    message = message_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, int(error.retry_after_s + 0.999)))
    if isinstance(error, AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(code, message), status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    @app.exception_handler(CueTooLarge)
    @app.exception_handler(CueDecodeError)
    @app.exception_handler(DeliveryError)
    async def livecue_error(_: Request, exc: LivecueError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            position = first.get("loc", ("body", "?"))[-1]
            ctx = first.get("ctx")
            detail = ctx.get("error", "") if isinstance(ctx, dict) else ""
            message = f"the body is not valid JSON ({detail} at character {position})"
            return JSONResponse(error_body("invalid_json", message), 400)
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(error_body("invalid_request", f"{where}: {first.get('msg')}"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer when json.loads fails other than by syntax
            detail = (
                "the body is not valid JSON: invalid UTF-8, nested too deeply, "
                "or a number too large"
            )
        return JSONResponse(error_body("http_error", detail), exc.status_code, headers=exc.headers)
