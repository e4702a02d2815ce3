"""A fake WeChat API server that speaks the documented HTTP API, for tests and the local sandbox.

It keeps access tokens, the menu, templates and every message sent to a user, records each API
call, and can be told to fail. Controls exist in Python (`FakeWeChatState`) and over HTTP under
/_fake/ for other processes:

    POST /_fake/fail {"api": "/cgi-bin/message/template/send", "errcode": 45009, "times": 2}
    POST /_fake/slow {"api": "/cgi-bin/menu/create", "seconds": 3}
    POST /_fake/expire_tokens, POST /_fake/unsubscribe {"openid"}, POST /_fake/refuse {"openid"}
    POST /_fake/reset
    GET  /_fake/calls?api=/cgi-bin/stable_token
    GET  /_fake/messages?openid=...&after=<id>

Web authorisation (OAuth2 snsapi_base): GET /connect/oauth2/authorize redirects to the
redirect_uri with a one-time `code` for the follower this browser belongs to (the cookie
`fake_wechat_openid`, which the page sets when `fake_openid` is given); GET
/sns/oauth2/access_token exchanges the code for that openid.

Run standalone: python -m sandbox.fake_wechat --port 8801
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

from config.settings import (
    SANDBOX_ACTIVITY_CHANGE_TEMPLATE,
    SANDBOX_ACTIVITY_REMINDER_TEMPLATE,
    SANDBOX_ACTIVITY_SIGNUP_TEMPLATE,
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_NEED_PROGRESS_TEMPLATE,
)

TOKEN_EXPIRES_IN = 7200
# After GET /cgi-bin/token issues a new token, the old one keeps working this long.
OLD_TOKEN_GRACE_SECONDS = 300
CLIENT_MSG_ID_WINDOW_SECONDS = 600
OAUTH_CODE_SECONDS = 300
OAUTH_COOKIE = "fake_wechat_openid"
# Like WeChat, only some answers carry errcode 0 (the others are plain data).
OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}

TEMPLATE_ACTIVITY_SIGNUP = SANDBOX_ACTIVITY_SIGNUP_TEMPLATE
TEMPLATE_ACTIVITY_REMINDER = SANDBOX_ACTIVITY_REMINDER_TEMPLATE
TEMPLATE_ACTIVITY_CHANGE = SANDBOX_ACTIVITY_CHANGE_TEMPLATE
TEMPLATE_NEED_PROGRESS = SANDBOX_NEED_PROGRESS_TEMPLATE

SEED_TEMPLATES: tuple[dict[str, str], ...] = (
    {
        "template_id": TEMPLATE_ACTIVITY_SIGNUP,
        "title": "活动报名成功通知",
        "primary_industry": "政府与公共事业",
        "deputy_industry": "公共事业|非盈利机构",
        "content": (
            "活动名称:{{thing1.DATA}}\n活动时间:{{time2.DATA}}\n"
            "活动地点:{{thing3.DATA}}\n报名状态:{{phrase4.DATA}}\n"
        ),
        "example": (
            "活动名称:青少年科普进社区\n活动时间:2024年5月18日 09:00\n"
            "活动地点:兰州市城关区科技馆\n报名状态:已报名\n"
        ),
    },
    {
        "template_id": TEMPLATE_ACTIVITY_REMINDER,
        "title": "活动开始提醒",
        "primary_industry": "政府与公共事业",
        "deputy_industry": "公共事业|非盈利机构",
        "content": (
            "活动名称:{{thing1.DATA}}\n开始时间:{{time2.DATA}}\n"
            "活动地点:{{thing3.DATA}}\n温馨提示:{{thing4.DATA}}\n"
        ),
        "example": (
            "活动名称:农业技术下乡服务\n开始时间:2024年6月1日 14:30\n"
            "活动地点:定西市安定区香泉镇\n温馨提示:请提前15分钟到场签到\n"
        ),
    },
    {
        "template_id": TEMPLATE_ACTIVITY_CHANGE,
        "title": "活动变更通知",
        "primary_industry": "政府与公共事业",
        "deputy_industry": "公共事业|非盈利机构",
        "content": (
            "活动名称:{{thing1.DATA}}\n变更内容:{{thing2.DATA}}\n"
            "活动时间:{{time3.DATA}}\n活动地点:{{thing4.DATA}}\n"
        ),
        "example": (
            "活动名称:农业技术下乡服务\n变更内容:时间改为6月2日 09:00\n"
            "活动时间:2024年6月2日 09:00\n活动地点:定西市安定区香泉镇\n"
        ),
    },
    {
        "template_id": TEMPLATE_NEED_PROGRESS,
        "title": "需求进度通知",
        "primary_industry": "政府与公共事业",
        "deputy_industry": "公共事业|非盈利机构",
        "content": (
            "需求方:{{thing1.DATA}}\n需求编号:{{character_string2.DATA}}\n"
            "进度:{{phrase3.DATA}}\n说明:{{thing4.DATA}}\n"
        ),
        "example": (
            "需求方:城关区东岗社区\n需求编号:XQ202612010001\n"
            "进度:已完成\n说明:回复评价为本次服务打分\n"
        ),
    },
)

MENU_TYPES = frozenset(
    {
        "click",
        "view",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
        "media_id",
        "article_id",
        "view_limited",
        "article_view_limited",
        "miniprogram",
    }
)

ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40037: "invalid template_id",
    40054: "invalid sub button url domain",
    40055: "invalid button url domain",
    40097: "invalid args",
    40125: "invalid appsecret",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
}

# Rough value rules of category-template keys (the prefix of the key names the rule).
_TEMPLATE_VALUE_RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: 0 < len(v) <= 20,
    "phrase": lambda v: 0 < len(v) <= 5 and not re.search(r"[0-9A-Za-z]", v),
    "time": lambda v: bool(re.fullmatch(r"[0-9年月日时分秒:：\-/ ~～.]+", v)),
    "date": lambda v: bool(re.fullmatch(r"[0-9年月日\-/ ~～.]+", v)),
    "number": lambda v: bool(re.fullmatch(r"[0-9.]{1,32}", v)),
    "character_string": lambda v: 0 < len(v) <= 32 and bool(re.fullmatch(r"[0-9A-Za-z_\-]+", v)),
    "name": lambda v: 0 < len(v) <= 20,
    "phone_number": lambda v: bool(re.fullmatch(r"[0-9+\-]{1,17}", v)),
}


@dataclass(frozen=True)
class Call:
    api: str
    method: str
    query: dict[str, str]
    json: Any
    body: str
    errcode: int
    time: float  # when the fake answered
    received: float = 0.0  # when the request arrived (before any delay set with slow())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FakeError(Exception):
    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


@dataclass
class _Token:
    value: str
    expires_at: float
    revoked: bool = False


@dataclass
class _Data:
    """Everything reset() clears."""

    tokens: dict[str, _Token] = field(default_factory=dict)
    stable_token: str | None = None
    menu: list[dict[str, Any]] | None = None
    templates: list[dict[str, str]] = field(
        default_factory=lambda: [dict(t) for t in SEED_TEMPLATES]
    )
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, deque[int]] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)
    odd_answers: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    unsubscribed: set[str] = field(default_factory=set)
    refusing: set[str] = field(default_factory=set)
    sent_client_msg_ids: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    qrcodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    oauth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)


class FakeWeChatState:
    """The fake's memory; every method is thread-safe."""

    def __init__(self, app_id: str, app_secret: str) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self._lock = threading.RLock()
        self._data = _Data()
        self._generation = 0
        self._next_id = 0

    # ---- controls -----------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._data = _Data()
            self._generation += 1

    def fail(self, api_path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls of api_path answer errcode (queued after earlier failures)."""
        with self._lock:
            self._data.failures.setdefault(api_path, deque()).extend([errcode] * times)

    def answer_oddly(self, api_path: str, answer: dict[str, Any]) -> None:
        """The next call of api_path answers exactly `answer` (an errcode 0 without the fields
        the documentation promises, say)."""
        with self._lock:
            self._data.odd_answers.setdefault(api_path, deque()).append(dict(answer))

    def take_odd_answer(self, api_path: str) -> dict[str, Any] | None:
        with self._lock:
            queue = self._data.odd_answers.get(api_path)
            return queue.popleft() if queue else None

    def slow(self, api_path: str, seconds: float) -> None:
        """Every call of api_path waits `seconds` before answering (0 turns it off)."""
        with self._lock:
            self._data.slow[api_path] = seconds

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self._data.tokens.values():
                token.expires_at = min(token.expires_at, time.time() - 1)

    def mark_unsubscribed(self, openid: str) -> None:
        with self._lock:
            self._data.unsubscribed.add(openid)

    def mark_refusing(self, openid: str) -> None:
        with self._lock:
            self._data.refusing.add(openid)

    def add_template(self, template: dict[str, str]) -> None:
        with self._lock:
            self._data.templates.append(dict(template))

    # ---- inspection ---------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._data.calls)

    def calls_to(self, api_path: str) -> list[Call]:
        return [call for call in self.calls if call.api == api_path]

    def messages(self, openid: str, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._data.messages.get(openid, []) if m["id"] > after]

    @property
    def duplicates(self) -> list[dict[str, Any]]:
        """Template sends not delivered because of a repeated client_msg_id."""
        with self._lock:
            return [dict(d) for d in self._data.duplicates]

    @property
    def menu(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._data.menu is None else {"button": _copy(self._data.menu)}

    @property
    def templates(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(t) for t in self._data.templates]

    def valid_tokens(self) -> list[str]:
        with self._lock:
            return [t.value for t in self._data.tokens.values() if _is_valid(t)]

    # ---- used by the endpoints ----------------------------------------------------------

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def delay_for(self, api_path: str) -> float:
        with self._lock:
            return self._data.slow.get(api_path, 0.0)

    def take_failure(self, api_path: str) -> int | None:
        with self._lock:
            queue = self._data.failures.get(api_path)
            return queue.popleft() if queue else None

    def record(self, call: Call, generation: int) -> None:
        with self._lock:
            # A request that began before a reset belongs to an earlier test: drop it.
            if generation == self._generation:
                self._data.calls.append(call)

    def check_credentials(self, appid: str | None, secret: str | None) -> None:
        if appid != self.app_id:
            raise FakeError(40013)
        if secret != self.app_secret:
            raise FakeError(40125)

    def check_token(self, value: str | None) -> None:
        with self._lock:
            token = self._data.tokens.get(value or "")
            if token is None or token.revoked:
                raise FakeError(40001)
            if token.expires_at <= time.time():
                raise FakeError(42001)

    def issue_token(self) -> _Token:
        """GET /cgi-bin/token: always a new token; older ones keep working for 5 minutes."""
        with self._lock:
            grace_end = time.time() + OLD_TOKEN_GRACE_SECONDS
            for old in self._data.tokens.values():
                old.expires_at = min(old.expires_at, grace_end)
            return self._new_token()

    def stable_token(self, force_refresh: bool) -> _Token:
        """POST /cgi-bin/stable_token: the same token while valid; force_refresh replaces it."""
        with self._lock:
            current = self._data.tokens.get(self._data.stable_token or "")
            if current is not None and not force_refresh and _is_valid(current):
                return current
            if current is not None and _is_valid(current):
                current.revoked = True
            token = self._new_token()
            self._data.stable_token = token.value
            return token

    def _new_token(self) -> _Token:
        token = _Token(secrets.token_urlsafe(48), time.time() + TOKEN_EXPIRES_IN)
        self._data.tokens[token.value] = token
        return token

    def store_menu(self, buttons: list[dict[str, Any]]) -> None:
        with self._lock:
            self._data.menu = _copy(buttons)

    def delete_menu(self) -> None:
        with self._lock:
            self._data.menu = None

    def template(self, template_id: str) -> dict[str, str] | None:
        with self._lock:
            for template in self._data.templates:
                if template["template_id"] == template_id:
                    return dict(template)
            return None

    def check_can_receive(self, openid: str, *, template: bool) -> None:
        with self._lock:
            if openid in self._data.unsubscribed:
                raise FakeError(43004)
            if template and openid in self._data.refusing:
                raise FakeError(43101)

    def is_subscribed(self, openid: str) -> bool:
        with self._lock:
            return openid not in self._data.unsubscribed

    def deliver(self, openid: str, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            stored = {**message, "id": self._next_id, "openid": openid, "time": time.time()}
            self._data.messages.setdefault(openid, []).append(stored)
            return dict(stored)

    def deliver_template(
        self, openid: str, client_msg_id: str | None, message: dict[str, Any]
    ) -> int:
        """Deliver a template message and return its msgid.

        A repeated client_msg_id for the same user within 10 minutes is not delivered again.
        WeChat documents only that the second send is blocked; we answer errcode 0 with the first
        msgid (so a caller retrying after a lost answer sees success) and record a duplicate.
        """
        with self._lock:
            now = time.time()
            key = (openid, client_msg_id or "")
            earlier = self._data.sent_client_msg_ids.get(key) if client_msg_id else None
            if earlier is not None and now - earlier[1] < CLIENT_MSG_ID_WINDOW_SECONDS:
                self._data.duplicates.append(
                    {"openid": openid, "client_msg_id": client_msg_id, "msgid": earlier[0]}
                )
                return earlier[0]
            msgid = self._new_msgid()
            self.deliver(openid, {**message, "msgid": msgid})
            if client_msg_id:
                self._data.sent_client_msg_ids[key] = (msgid, now)
            return msgid

    def _new_msgid(self) -> int:
        return 2_000_000_000_000_000_000 + secrets.randbelow(10**15)

    def store_qrcode(self, ticket: str, info: dict[str, Any]) -> None:
        with self._lock:
            self._data.qrcodes[ticket] = dict(info)

    def qrcode(self, ticket: str) -> dict[str, Any] | None:
        with self._lock:
            info = self._data.qrcodes.get(ticket)
            return None if info is None else dict(info)

    def issue_oauth_code(self, openid: str) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._data.oauth_codes[code] = (openid, time.time() + OAUTH_CODE_SECONDS)
        return code

    def take_oauth_code(self, code: str) -> str:
        """The openid of a web authorisation code; a code works once (40163), then 40029."""
        with self._lock:
            found = self._data.oauth_codes.pop(code, None)
        if found is None:
            raise FakeError(40029, "invalid code")
        openid, expires_at = found
        if expires_at < time.time():
            raise FakeError(40029, "invalid code")
        return openid


def _is_valid(token: _Token) -> bool:
    return not token.revoked and token.expires_at > time.time()


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


# ---- the Flask app ---------------------------------------------------------------------------

Handler = Callable[[FakeWeChatState, Any], dict[str, Any]]


def create_fake_wechat(app_id: str, app_secret: str) -> Flask:
    app = Flask(__name__)
    state = FakeWeChatState(app_id, app_secret)
    app.extensions["fake_wechat"] = state
    _register_api(app, state)
    _register_controls(app, state)
    return app


# (path, method, handler, needs a token). The POST handlers read only the JSON body, never
# flask.request: sandbox.fake_wechat_fast answers them without Flask.
API_ROUTES: list[tuple[str, str, Handler, bool]] = []


def _register_api(app: Flask, state: FakeWeChatState) -> None:
    for path, method, handler, needs_token in API_ROUTES:
        app.add_url_rule(
            path,
            endpoint=path,
            view_func=_api_view(state, path, handler, needs_token),
            methods=[method],
        )
    app.add_url_rule("/cgi-bin/showqrcode", view_func=_show_qrcode(state), methods=["GET"])
    app.add_url_rule(
        "/connect/oauth2/authorize", view_func=_oauth_authorize(state), methods=["GET"]
    )


def _api_view(
    state: FakeWeChatState, path: str, handler: Handler, needs_token: bool
) -> Callable[[], Response]:
    def view() -> Response:
        received = time.time()
        generation = state.generation()
        delay = state.delay_for(path)
        if delay > 0:
            time.sleep(delay)
        answer = answer_call(
            state,
            (path, request.method, handler, needs_token),
            dict(request.args),
            request.get_data().decode("utf-8", "replace"),
            received,
            generation,
        )
        return _json_response(answer)

    view.__name__ = "api_" + path.strip("/").replace("/", "_")
    return view


def answer_call(
    state: FakeWeChatState,
    route: tuple[str, str, Handler, bool],
    query: dict[str, str],
    raw: str,
    received: float,
    generation: int,
) -> dict[str, Any]:
    """Answer one API call (after its delay) and record it; `received`: when it arrived,
    `generation`: the state's generation then."""
    path, method, handler, needs_token = route
    body: Any = None
    try:
        if needs_token:
            state.check_token(query.get("access_token"))
        injected = state.take_failure(path)
        if injected is not None:
            raise FakeError(injected)
        if method == "POST":
            body = _parse_json(raw)
        answer = state.take_odd_answer(path) or handler(state, body)
    except FakeError as error:
        answer = {"errcode": error.errcode, "errmsg": error.errmsg}
    call = Call(
        api=path,
        method=method,
        query=query,
        json=body,
        body=raw,
        errcode=int(answer.get("errcode", 0)),
        time=time.time(),
        received=received,
    )
    state.record(call, generation)
    return answer


def _parse_json(raw: str) -> Any:
    if not raw.strip():
        raise FakeError(44002)
    try:
        return json.loads(raw)
    except ValueError:
        raise FakeError(47001) from None


def _json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        mimetype="application/json",
    )


def _require_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FakeError(47001)
    return body


# ---- token endpoints ---------------------------------------------------------------------------


def _token(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    if request.args.get("grant_type") != "client_credential":
        raise FakeError(40002, "invalid grant_type")
    state.check_credentials(request.args.get("appid"), request.args.get("secret"))
    token = state.issue_token()
    return {"access_token": token.value, "expires_in": TOKEN_EXPIRES_IN}


def _stable_token(state: FakeWeChatState, body: Any) -> dict[str, Any]:
    body = _require_dict(body)
    if body.get("grant_type") != "client_credential":
        raise FakeError(40002, "invalid grant_type")
    state.check_credentials(body.get("appid"), body.get("secret"))
    token = state.stable_token(force_refresh=bool(body.get("force_refresh", False)))
    return {"access_token": token.value, "expires_in": max(int(token.expires_at - time.time()), 0)}


# ---- menu -------------------------------------------------------------------------------------


def _menu_create(state: FakeWeChatState, body: Any) -> dict[str, Any]:
    state.store_menu(_checked_buttons(_require_dict(body).get("button")))
    return dict(OK)


def _checked_buttons(buttons: Any) -> list[dict[str, Any]]:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise FakeError(40016)
    for button in buttons:
        if not isinstance(button, dict):
            raise FakeError(47001)
        _check_name(button.get("name"), 16, 40018)
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                raise FakeError(40023)
            for sub in subs:
                if not isinstance(sub, dict):
                    raise FakeError(47001)
                _check_name(sub.get("name"), 60, 40025)
                _check_action(sub, url_errcode=40054)
        else:
            _check_action(button, url_errcode=40055)
    return buttons


def _check_name(name: Any, limit: int, errcode: int) -> None:
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > limit:
        raise FakeError(errcode)


def _check_action(button: dict[str, Any], *, url_errcode: int) -> None:
    kind = button.get("type")
    if kind not in MENU_TYPES:
        raise FakeError(40017)
    if kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 1024:
            raise FakeError(url_errcode)
    elif kind not in {"media_id", "article_id", "miniprogram", "view_limited"}:
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode("utf-8")) > 128:
            raise FakeError(40019)


def _selfmenu_info(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    menu = state.menu
    if menu is None:
        return {"is_menu_open": 0}
    buttons = []
    for button in menu["button"]:
        if button.get("sub_button"):
            button = {**button, "sub_button": {"list": button["sub_button"]}}
        buttons.append(button)
    return {"is_menu_open": 1, "selfmenu_info": {"button": buttons}}


def _menu_get(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    menu = state.menu
    if menu is None:
        raise FakeError(46003)
    buttons = [{**b, "sub_button": b.get("sub_button", [])} for b in menu["button"]]
    return {"menu": {"button": buttons}}


def _menu_delete(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    state.delete_menu()
    return dict(OK)


# ---- messages ---------------------------------------------------------------------------------


def _template_send(state: FakeWeChatState, body: Any) -> dict[str, Any]:
    body = _require_dict(body)
    openid = _openid(body.get("touser"))
    template = state.template(str(body.get("template_id", "")))
    if template is None:
        raise FakeError(40037)
    data = _template_values(template, body.get("data"))
    state.check_can_receive(openid, template=True)
    message = {
        "type": "template",
        "template_id": template["template_id"],
        "title": template["title"],
        "data": data,
        "url": body.get("url"),
        "client_msg_id": body.get("client_msg_id"),
    }
    msgid = state.deliver_template(openid, body.get("client_msg_id"), message)
    return {**OK, "msgid": msgid}


def _template_values(template: dict[str, str], data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise FakeError(47001)
    values: dict[str, str] = {}
    for key in re.findall(r"\{\{(\w+)\.DATA\}\}", template["content"]):
        item = data.get(key)
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not _value_fits(key, value):
            raise FakeError(47003, f"argument invalid! data.{key}.value invalid")
        values[key] = value
    return values


def _value_fits(key: str, value: str) -> bool:
    prefix = re.sub(r"\d+$", "", key)
    rule = _TEMPLATE_VALUE_RULES.get(prefix)
    return rule(value) if rule else len(value) <= 200


def _custom_send(state: FakeWeChatState, body: Any) -> dict[str, Any]:
    body = _require_dict(body)
    openid = _openid(body.get("touser"))
    message = _custom_message(body)
    state.check_can_receive(openid, template=False)
    state.deliver(openid, message)
    return dict(OK)


def _custom_message(body: dict[str, Any]) -> dict[str, Any]:
    msgtype = body.get("msgtype")
    if msgtype == "text":
        content = (body.get("text") or {}).get("content")
        if not isinstance(content, str) or not content:
            raise FakeError(44002, "empty content")
        return {"type": "text", "content": content}
    if msgtype == "news":
        articles = (body.get("news") or {}).get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
            raise FakeError(40097)
        return {"type": "news", "articles": articles}
    raise FakeError(40008, "invalid message type")


def _openid(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{6,64}", value):
        raise FakeError(40003)
    return value


# ---- users and QR codes -----------------------------------------------------------------------


def _user_info(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    openid = _openid(request.args.get("openid"))
    if not state.is_subscribed(openid):
        return {"subscribe": 0, "openid": openid}
    return {
        "subscribe": 1,
        "openid": openid,
        "language": request.args.get("lang", "zh_CN"),
        "subscribe_time": 1700000000,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": "ADD_SCENE_QR_CODE",
        "qr_scene": 0,
        "qr_scene_str": "",
    }


def _qrcode_create(state: FakeWeChatState, body: Any) -> dict[str, Any]:
    body = _require_dict(body)
    action = body.get("action_name")
    scene = (body.get("action_info") or {}).get("scene") or {}
    if action in {"QR_STR_SCENE", "QR_LIMIT_STR_SCENE"}:
        scene_value = scene.get("scene_str")
        if not isinstance(scene_value, str) or not 1 <= len(scene_value) <= 64:
            raise FakeError(40097)
    elif action in {"QR_SCENE", "QR_LIMIT_SCENE"}:
        scene_value = scene.get("scene_id")
        if not isinstance(scene_value, int) or scene_value <= 0:
            raise FakeError(40097)
    else:
        raise FakeError(40097)
    ticket = "gQ" + secrets.token_urlsafe(40)
    answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket[:22]}"}
    if action in {"QR_SCENE", "QR_STR_SCENE"}:
        expire_seconds = int(body.get("expire_seconds", 60))
        if not 60 <= expire_seconds <= 2592000:
            raise FakeError(40097)
        answer["expire_seconds"] = expire_seconds
    state.store_qrcode(ticket, {"action_name": action, "scene": scene_value})
    return answer


def _show_qrcode(state: FakeWeChatState) -> Callable[[], Response]:
    def show_qrcode() -> Response:
        info = state.qrcode(request.args.get("ticket", ""))
        if info is None:
            return Response("ticket not found", status=404, mimetype="text/plain")
        scene = str(info["scene"]).replace("&", "&amp;").replace("<", "&lt;")
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240">'
            '<rect width="240" height="240" fill="#fff" stroke="#000"/>'
            f'<text x="120" y="125" text-anchor="middle" font-size="14">QR {scene}</text></svg>'
        )
        return Response(svg, mimetype="image/svg+xml")

    return show_qrcode


# ---- web authorisation (OAuth2 snsapi_base) -------------------------------------------------


def _oauth_authorize(state: FakeWeChatState) -> Callable[[], Response]:
    def authorize() -> Response:
        args = request.args
        if args.get("appid") != state.app_id:
            return Response("appid 参数错误", status=400, mimetype="text/plain")
        if args.get("response_type") != "code" or args.get("scope") not in (
            "snsapi_base",
            "snsapi_userinfo",
        ):
            return Response("scope 参数错误", status=400, mimetype="text/plain")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            return Response("redirect_uri 参数错误", status=400, mimetype="text/plain")
        openid = args.get("fake_openid") or request.cookies.get(OAUTH_COOKIE)
        if not openid:
            return _who_are_you_page()
        code = state.issue_oauth_code(openid)
        sep = "&" if "?" in redirect_uri else "?"
        target = f"{redirect_uri}{sep}{urlencode({'code': code, 'state': args.get('state', '')})}"
        response = Response(status=302, headers={"Location": target})
        response.set_cookie(OAUTH_COOKIE, openid, httponly=True, samesite="Lax")
        return response

    return authorize


def _who_are_you_page() -> Response:
    """The fake cannot know which follower a browser belongs to until told once."""
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{_html(v)}">' for k, v in request.args.items()
    )
    page = (
        '<!doctype html><meta charset="utf-8"><title>模拟微信授权</title>'
        '<form method="get"><p>模拟微信网页授权：这个浏览器属于哪位关注者？</p>'
        f'{hidden}<input name="fake_openid" placeholder="openid"> <button>确定</button></form>'
    )
    return Response(page, mimetype="text/html")


def _html(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _oauth_access_token(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    if request.args.get("grant_type") != "authorization_code":
        raise FakeError(40002, "invalid grant_type")
    state.check_credentials(request.args.get("appid"), request.args.get("secret"))
    openid = state.take_oauth_code(request.args.get("code", ""))
    return {
        "access_token": "web" + secrets.token_urlsafe(24),
        "expires_in": 7200,
        "refresh_token": "refresh" + secrets.token_urlsafe(24),
        "openid": openid,
        "scope": "snsapi_base",
    }


def _templates(state: FakeWeChatState, _body: Any) -> dict[str, Any]:
    return {"template_list": state.templates}


API_ROUTES.extend(
    [
        ("/cgi-bin/token", "GET", _token, False),
        ("/cgi-bin/stable_token", "POST", _stable_token, False),
        ("/cgi-bin/menu/create", "POST", _menu_create, True),
        ("/cgi-bin/get_current_selfmenu_info", "GET", _selfmenu_info, True),
        ("/cgi-bin/menu/get", "GET", _menu_get, True),
        ("/cgi-bin/menu/delete", "GET", _menu_delete, True),
        ("/cgi-bin/message/template/send", "POST", _template_send, True),
        ("/cgi-bin/message/custom/send", "POST", _custom_send, True),
        ("/cgi-bin/user/info", "GET", _user_info, True),
        ("/cgi-bin/qrcode/create", "POST", _qrcode_create, True),
        ("/cgi-bin/template/get_all_private_template", "GET", _templates, True),
        ("/sns/oauth2/access_token", "GET", _oauth_access_token, False),
    ]
)


# ---- HTTP controls ------------------------------------------------------------------------------


def _register_controls(app: Flask, state: FakeWeChatState) -> None:
    def body() -> dict[str, Any]:
        payload = request.get_json(force=True, silent=True)
        return payload if isinstance(payload, dict) else {}

    @app.post("/_fake/fail")
    def fake_fail() -> Response:
        payload = body()
        state.fail(str(payload["api"]), int(payload["errcode"]), int(payload.get("times", 1)))
        return _json_response({"ok": True})

    @app.post("/_fake/slow")
    def fake_slow() -> Response:
        payload = body()
        state.slow(str(payload["api"]), float(payload["seconds"]))
        return _json_response({"ok": True})

    @app.post("/_fake/expire_tokens")
    def fake_expire_tokens() -> Response:
        state.expire_tokens()
        return _json_response({"ok": True})

    @app.post("/_fake/unsubscribe")
    def fake_unsubscribe() -> Response:
        state.mark_unsubscribed(str(body()["openid"]))
        return _json_response({"ok": True})

    @app.post("/_fake/refuse")
    def fake_refuse() -> Response:
        state.mark_refusing(str(body()["openid"]))
        return _json_response({"ok": True})

    @app.post("/_fake/reset")
    def fake_reset() -> Response:
        state.reset()
        return _json_response({"ok": True})

    @app.get("/_fake/calls")
    def fake_calls() -> Response:
        api = request.args.get("api")
        calls = state.calls_to(api) if api else state.calls
        return _json_response({"calls": [call.to_dict() for call in calls]})

    @app.get("/_fake/messages")
    def fake_messages() -> Response:
        openid = request.args.get("openid", "")
        after = request.args.get("after", "0")
        if not after.isdigit():
            return _json_response({"error": "after must be a message id"}, status=400)
        return _json_response({"messages": state.messages(openid, after=int(after))})

    @app.get("/_fake/duplicates")
    def fake_duplicates() -> Response:
        return _json_response({"duplicates": state.duplicates})

    @app.errorhandler(KeyError)
    def missing_field(error: KeyError) -> Response:
        return _json_response({"error": f"missing field {error}"}, status=400)


# ---- running it ---------------------------------------------------------------------------------


class FakeWeChatServer:
    """The fake in a background thread on loopback; port 0 picks a free port."""

    def __init__(self, app_id: str, app_secret: str, port: int = 0) -> None:
        self.app = create_fake_wechat(app_id, app_secret)
        self.state: FakeWeChatState = self.app.extensions["fake_wechat"]
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake WeChat server is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeWeChatServer:
        if self._server is None:
            self._server = make_server("127.0.0.1", self._port, self.app, threaded=True)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="fake-wechat", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeWeChatServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake WeChat API server on loopback.")
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument("--app-id", default=os.environ.get("WECHAT_APP_ID", SANDBOX_APP_ID))
    parser.add_argument(
        "--app-secret", default=os.environ.get("WECHAT_APP_SECRET", SANDBOX_APP_SECRET)
    )
    args = parser.parse_args(argv)
    app = create_fake_wechat(args.app_id, args.app_secret)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"fake WeChat API on http://127.0.0.1:{server.server_port} (app id {args.app_id})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
