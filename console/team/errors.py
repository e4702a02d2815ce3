"""Team console error pages: Chinese, on the phone layout."""

from __future__ import annotations

import logging

import redis
from flask import Response, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from console.errors import CSRF_TEXT, ERROR_TEXT
from console.team.blueprint import bp

log = logging.getLogger("console.team.errors")

TEAM_TEXT = {
    **ERROR_TEXT,
    404: ("没有找到", "要找的内容不存在，或不属于您管理的队伍。"),
    503: ("暂时无法使用", "服务暂时不可用，请稍后再试。"),
}


def page(code: int, text: tuple[str, str] | None = None) -> Response:
    title, message = text or TEAM_TEXT.get(code, TEAM_TEXT[500])
    response = make_response(
        render_template("team/message.html", title=title, message=message), code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(_exc: CSRFError) -> Response:
    return page(400, CSRF_TEXT)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return page(exc.code or 500)


@bp.errorhandler(redis.RedisError)
def redis_down(_exc: redis.RedisError) -> Response:
    log.warning("team console: Redis unavailable")
    return page(503)


@bp.errorhandler(Exception)
def unexpected(_exc: Exception) -> Response:
    log.exception("team console error")
    return page(500)
