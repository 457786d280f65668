"""Domain errors that carry their HTTP status, and the one handler that renders them.

Every error response has the shape::

    {"error": {"code": "accounts.user_not_registered", "message": "<translated>", "detail": ...}}

``code`` is stable (clients switch on it) and is also the i18n message id; ``message`` is
translated into the request's language; ``detail`` is optional machine-readable context.
Raise from services: ``raise NotFound("catalog.event_not_found")``; parameters for the message
go in as keywords: ``raise Invalid("accounts.role_invalid", role=role)``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.i18n import register_messages, translate

log = logging.getLogger(__name__)

register_messages(
    {
        "bad_request": {"zh-CN": "请求无效", "en": "Bad request"},
        "unauthorized": {"zh-CN": "请先登录", "en": "Please log in"},
        "forbidden": {"zh-CN": "没有权限执行此操作", "en": "You are not allowed to do this"},
        "not_found": {"zh-CN": "未找到", "en": "Not found"},
        "method_not_allowed": {"zh-CN": "不支持该请求方法", "en": "Method not allowed"},
        "conflict": {"zh-CN": "与当前状态冲突", "en": "Conflicts with the current state"},
        "invalid": {"zh-CN": "输入有误", "en": "Invalid input"},
        "validation_failed": {"zh-CN": "请求参数有误", "en": "The request has invalid fields"},
        "rate_limited": {
            "zh-CN": "操作过于频繁，请 {retry_after} 秒后再试",
            "en": "Too many attempts; try again in {retry_after} s",
        },
        "unavailable": {"zh-CN": "服务暂不可用", "en": "Service unavailable"},
        "internal_error": {"zh-CN": "服务器内部错误", "en": "Internal server error"},
    }
)


class AdmitError(Exception):
    """Base of every domain error: an HTTP status, a stable code, message parameters, detail."""

    status_code: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, code: str | None = None, *, detail: Any = None, **params: Any) -> None:
        self.code = code or self.default_code
        self.detail = detail
        self.params = params
        super().__init__(self.code)

    def message(self, language: str | None) -> str:
        return translate(self.code, language, **self.params)

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(AdmitError):
    status_code = 400
    default_code = "bad_request"


class Unauthorized(AdmitError):
    status_code = 401
    default_code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AdmitError):
    status_code = 403
    default_code = "forbidden"


class NotFound(AdmitError):
    status_code = 404
    default_code = "not_found"


class Conflict(AdmitError):
    status_code = 409
    default_code = "conflict"


class Invalid(AdmitError):
    status_code = 422
    default_code = "invalid"


class RateLimited(AdmitError):
    """Too many attempts; ``retry_after`` whole seconds go into the ``Retry-After`` header."""

    status_code = 429
    default_code = "rate_limited"

    def __init__(
        self, code: str | None = None, *, retry_after: int, detail: Any = None, **params: Any
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(code, detail=detail, retry_after=self.retry_after, **params)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unavailable(AdmitError):
    status_code = 503
    default_code = "unavailable"


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


def request_language(request: Request) -> str:
    """The language the middleware chose for this request (see :mod:`server.app`)."""
    language: str = getattr(request.state, "language", None) or request.app.state.settings.language
    return language


async def _admit_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdmitError)
    body = error_body(exc.code, exc.message(request_language(request)), exc.detail)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers())


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    message = translate("validation_failed", request_language(request))
    return JSONResponse(error_body("validation_failed", message, detail), status_code=422)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "bad_request")
    message = translate(code, request_language(request), retry_after="?")
    return JSONResponse(
        error_body(code, message, None), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = translate("internal_error", request_language(request))
    return JSONResponse(error_body("internal_error", message), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Render domain errors, validation errors, HTTP errors and crashes in one shape."""
    app.add_exception_handler(AdmitError, _admit_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
