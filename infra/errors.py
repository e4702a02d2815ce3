"""No request ever gets a traceback; WeChat never gets a 500."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger("app.errors")


def register(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        return Response("payload too large", status=413, mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return Response(
                exc.description or exc.name, status=exc.code or 500, mimetype="text/plain"
            )
        log.exception("unhandled error path=%s", request.path)
        if request.path.startswith("/wechat"):
            # WeChat shows 「该公众号暂时无法提供服务」 on a 5xx; `success` shows nothing.
            return Response("success", mimetype="text/plain")
        return Response("服务器内部错误，请稍后再试。", status=500, mimetype="text/plain")
