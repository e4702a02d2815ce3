"""No request ever gets a traceback; WeChat never gets a 500.

A part of the site with its own look (the console) registers an error page for its path prefix
with `add_error_page`; errors under that prefix that its own handlers never see (an unknown URL,
a wrong method, a failure outside its views) are shown with it. Everything else is plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger("app.errors")

ErrorPage = Callable[[int], Response]


def add_error_page(app: Flask, prefix: str, page: ErrorPage) -> None:
    """Errors for paths under `prefix` (e.g. "/console") are shown with page(status code)."""
    app.extensions.setdefault("error_pages", {})[prefix.rstrip("/")] = page


def _error_page(code: int) -> Response | None:
    pages: dict[str, ErrorPage] = current_app.extensions.get("error_pages", {})
    for prefix, page in pages.items():
        if request.path == prefix or request.path.startswith(prefix + "/"):
            try:
                return page(code)
            except Exception:
                log.exception("error page failed path=%s", request.path)
    return None


def register(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        return _error_page(413) or Response("payload too large", status=413, mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            code = exc.code or 500
            return _error_page(code) or Response(
                exc.description or exc.name, status=code, mimetype="text/plain"
            )
        log.exception("unhandled error path=%s", request.path)
        if request.path.startswith("/wechat"):
            # WeChat shows 「该公众号暂时无法提供服务」 on a 5xx; `success` shows nothing.
            return Response("success", mimetype="text/plain")
        return _error_page(500) or Response(
            "服务器内部错误，请稍后再试。", status=500, mimetype="text/plain"
        )
