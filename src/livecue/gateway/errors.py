"""Errors the gateway answers with, and their JSON shape: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import CueDecodeError, CueTooLarge


class GatewayError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class NotFound(GatewayError):
    status, code = 404, "not_found"


class Unauthenticated(GatewayError):
    status, code = 401, "unauthenticated"


class Forbidden(GatewayError):
    status, code = 403, "forbidden"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class Unprocessable(GatewayError):
    status, code = 422, "invalid_request"


class RateLimited(GatewayError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        seconds = max(1, int(retry_after_s + 0.999))
        super().__init__(message, headers={"Retry-After": str(seconds)})


class Unavailable(GatewayError):
    status, code = 503, "unavailable"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(CueTooLarge)
    async def too_large(_: Request, exc: CueTooLarge) -> JSONResponse:
        return JSONResponse(error_body("cue_too_large", str(exc)), 413)

    @app.exception_handler(CueDecodeError)
    async def bad_cue(_: Request, exc: CueDecodeError) -> JSONResponse:
        return JSONResponse(error_body("invalid_cue", exc.reason), 422)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
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
