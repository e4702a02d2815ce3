"""Console error pages: every 4xx/5xx under /console is a Chinese, styled page.

The blueprint's handlers cover its own routes (403/404 raised by a page, CSRF failures, Redis
down, unexpected exceptions); `page_for_path` serves errors that never reach a console route
(an unknown /console/... URL, a wrong method), through infra.errors' per-path error pages.
"""

from __future__ import annotations

import logging

import redis
from flask import Response, current_app, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from console.blueprint import bp, login_manager

log = logging.getLogger("console.errors")

ERROR_TEXT: dict[int, tuple[str, str]] = {
    400: ("请求有误", "请返回上一页重试。"),
    403: ("没有权限", "您的账号无权访问该页面或执行该操作。"),
    404: ("页面不存在", "要找的内容不存在，或不在您的管辖范围内。"),
    405: ("请求方式不对", "请通过页面上的按钮操作。"),
    413: ("提交的内容太大", "请减少内容后重试。"),
    500: ("出错了", "服务器内部错误，请稍后再试。"),
    503: ("暂时无法登录，请稍后再试", "登录服务暂时不可用，请稍后再试。"),
}
CSRF_TEXT = ("页面已过期", "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")


def error_page(code: int, text: tuple[str, str] | None = None) -> Response:
    title, message = text or ERROR_TEXT.get(code, ERROR_TEXT[500])
    settings = current_app.extensions["settings"]
    page = render_template(
        "console/error.html", title=title, message=message, account_name=settings.account_name
    )
    response = make_response(page, code)
    response.headers["Cache-Control"] = "no-store"
    return response


def page_for_path(code: int) -> Response:
    """An error outside the console's routes but under /console (infra.errors calls this)."""
    return error_page(code)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    code = error.code or 500
    if code == 400 and "CSRF" in (error.description or ""):
        return error_page(code, CSRF_TEXT)
    return error_page(code)


@bp.errorhandler(redis.RedisError)
def redis_down(error: redis.RedisError) -> Response:
    # Sessions and the login throttle live in Redis: without it nobody can log in safely.
    log.error("console: Redis unavailable path=%s: %s", request.path, error)
    _forget_user()
    return error_page(503)


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    log.exception("console: unhandled error path=%s", request.path)
    _forget_user()
    return error_page(500)


def _forget_user() -> None:
    """Show the error page as to a visitor: loading the user again could fail the same way."""
    login_manager._update_request_context_with_user()
