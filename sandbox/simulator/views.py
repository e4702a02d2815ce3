"""/simulator: a WeChat chat in the browser that drives the real webhook.

Every message the page sends becomes the signed (and, with an AES key, encrypted) POST WeChat
would send to /wechat, made in-process with the app's test client; the answer is decoded as
WeChat would decode it. Messages sent later through the API are read from the fake WeChat API
(GET {wechat_api_base_url}/_fake/messages). app.py registers this blueprint only when
settings.simulator_available (sandbox mode, or SIMULATOR_ENABLED=true).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from config import Settings
from config.settings import DEFAULT_API_BASE
from domain import clock
from extensions import Services
from sandbox.simulator.history import ChatHistory
from sandbox.simulator.wire import (
    MAX_SCENE,
    MAX_TEXT,
    OPENID_PATTERN,
    SIMULATED_ACCOUNT,
    SIMULATED_OPENID_PREFIX,
    UNAVAILABLE,
    Item,
    api_message_item,
    event_message,
    fake_ticket,
    open_reply_xml,
    shown_reply,
    text_message,
    voice_message,
)
from services.operators import audit
from wechat.bot import Bot
from wechat.errors import WeChatAPIError
from wechat.protocol import Mode, ProtocolError, build_inbound_xml

log = logging.getLogger("sandbox.simulator")

bp = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static",
)

POLL_MS = 1500
FAKE_API_TIMEOUT_SECONDS = 2.0
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024
# The page's own id for a message it has drawn already (so the stored copy replaces it).
MAX_CID = 64
# After the fake WeChat API did not answer, leave it alone this long (no request, no log line).
FAKE_API_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class SimulatedUser:
    name: str
    openid: str
    avatar: str


USERS = (
    SimulatedUser("用户A", f"{SIMULATED_OPENID_PREFIX}userA", "A"),
    SimulatedUser("用户B", f"{SIMULATED_OPENID_PREFIX}userB", "B"),
)


class BadInput(Exception):
    """A request the page should not have made; the message is shown to the operator."""


class NotSimulated(Exception):
    """With real credentials: an openid the simulator did not make (a real follower's)."""


@bp.errorhandler(BadInput)
def bad_input(error: BadInput) -> tuple[Response, int]:
    return jsonify(error=str(error)), 400


@bp.errorhandler(NotSimulated)
def not_simulated(error: NotSimulated) -> tuple[Response, int]:
    return jsonify(error=str(error)), 403


# ---- who may use it ------------------------------------------------------------------------
# In sandbox mode (no WeChat credentials) the simulator is open. With real credentials
# (SIMULATOR_ENABLED=true, a rehearsal) it needs an operator logged in to the console, speaks
# only for simulated users, and every page view and message is written to the audit log.


def _guarded() -> bool:
    return not _settings().sandbox


@bp.before_request
def require_operator() -> ResponseReturnValue | None:
    if not _guarded() or current_user.is_authenticated:
        return None
    if request.endpoint == "simulator.page":
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return jsonify(error="请先登录运营后台"), 401


def _audit(action: str, summary: str, detail: dict[str, Any] | None = None) -> None:
    services = _services()
    operator = current_user._get_current_object()
    with services.db.Session.begin() as session:
        audit(session, operator, action, summary=summary, detail=detail, ip=request.remote_addr)


def _bot() -> Bot:
    bot: Bot = current_app.extensions["bot"]
    return bot


def _services() -> Services:
    services: Services = current_app.extensions["services"]
    return services


def _settings() -> Settings:
    return _services().settings


def _history() -> ChatHistory:
    services = _services()
    return ChatHistory(services.redis, services.keys)


# ---- the page ------------------------------------------------------------------------------


@bp.get("", strict_slashes=False)
def page() -> str:
    settings = _settings()
    menu, problems = _menu()
    if _guarded():
        _audit("simulator_open", "打开微信模拟器（真实公众号配置）")
    config = {
        "account_name": settings.account_name,
        "account_id": SIMULATED_ACCOUNT,
        "mode": _mode(settings).value,
        "users": [asdict(user) for user in USERS],
        "menu": menu.get("button", []),
        "menu_problems": problems,
        "poll_ms": POLL_MS,
        "max_text": MAX_TEXT,
        "openid_prefix": SIMULATED_OPENID_PREFIX,
        "urls": {
            "chat": url_for(".chat"),
            "send": url_for(".send"),
            "checkin_codes": url_for(".checkin_codes"),
        },
    }
    return render_template(
        "simulator/index.html", account_name=settings.account_name, config=config
    )


def _menu() -> tuple[dict[str, Any], list[str]]:
    """menus.json as it is now (so an edit shows on reload) and what is wrong with it."""
    from wechat.commands import menu_problems

    try:
        menu, problems = menu_problems()
    except (OSError, ValueError) as exc:
        return {"button": []}, [f"menus.json 无法读取：{exc}"]
    return dict(menu), problems


def _menu_label(key: str) -> str:
    menu, _ = _menu()
    for button in menu.get("button", []):
        if button.get("key") == key:
            return str(button.get("name", key))
        for sub in button.get("sub_button") or []:
            if sub.get("key") == key:
                return f"{button.get('name', '')} › {sub.get('name', key)}"
    return key


def _mode(settings: Settings) -> Mode:
    return Mode.SAFE if settings.wechat_encoding_aes_key else Mode.PLAIN


# ---- 扫描活动签到码: the activities whose printed 签到/签退 codes can be scanned now -------------


@bp.get("/api/checkin-codes")
def checkin_codes() -> Response:
    """Activities with 签到/签退 QR codes made through WeChat's API whose check-in window has
    not closed, with the scenes the printed codes carry (what scanning them sends)."""
    from services import attendance

    now = clock.utcnow()
    with _services().db.Session() as session:
        found = [
            {
                "activity_id": activity.id,
                "title": activity.title,
                "starts_at": clock.show(activity.starts_at),
                "in": attendance.scene_for(attendance.IN, codes.token),
                "out": attendance.scene_for(attendance.OUT, codes.token),
            }
            for codes, activity in attendance.scannable(session, now)
        ]
    return jsonify(activities=found)


# ---- the chat: history plus messages sent through the API -------------------------------------


@bp.get("/api/chat")
def chat() -> Response:
    openid = _openid(request.args.get("openid"))
    history_after = _cursor("history")
    api_after = _cursor("api")
    entries, history_next, reset = _history().since(openid, history_after)
    if reset:
        api_after = 0
    api_items, api_next, api_status = _api_messages(openid, api_after)
    items = sorted([*entries, *api_items], key=lambda item: float(item.get("time", 0)))
    return jsonify(
        items=items,
        cursor={"history": history_next, "api": api_next},
        reset=reset,
        api_status=api_status,
    )


def _openid(value: Any) -> str:
    if not isinstance(value, str) or not OPENID_PATTERN.match(value):
        raise BadInput("openid 应为 6-64 位字母、数字、下划线或连字符")
    if _guarded() and not value.startswith(SIMULATED_OPENID_PREFIX):
        raise NotSimulated(
            f"模拟器只能代表模拟用户（openid 以 {SIMULATED_OPENID_PREFIX} 开头）发消息"
        )
    return value


def _cursor(name: str) -> int:
    raw = request.args.get(name, "0")
    if not raw.isdigit():
        raise BadInput(f"{name} 应为非负整数")
    return int(raw)


_fake_api_down_until: dict[str, float] = {}


def _api_messages(openid: str, after: int) -> tuple[list[Item], int, str]:
    """Messages the fake WeChat API holds for openid after message id `after`."""
    base = _settings().wechat_api_base_url
    if base == DEFAULT_API_BASE:
        return [], after, "unavailable"  # the real WeChat API keeps no copy we could read
    if time.monotonic() < _fake_api_down_until.get(base, 0.0):
        return [], after, "unavailable"
    try:
        with requests.get(
            base + "/_fake/messages",
            params={"openid": openid, "after": str(after)},
            timeout=FAKE_API_TIMEOUT_SECONDS,
        ) as response:
            response.raise_for_status()
            messages = response.json()["messages"]
        if not isinstance(messages, list):
            raise TypeError("messages is not a list")
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        log.warning(
            "simulator: cannot read the fake WeChat API's messages (%s); retrying in %.0f s",
            exc,
            FAKE_API_RETRY_SECONDS,
        )
        _fake_api_down_until[base] = time.monotonic() + FAKE_API_RETRY_SECONDS
        return [], after, "unavailable"
    templates = _templates(str(m.get("template_id")) for m in messages if m.get("template_id"))
    items = [api_message_item(message, templates) for message in messages]
    last = max([after, *(int(m.get("id", 0)) for m in messages)])
    return items, last, "ok"


_templates_lock = threading.Lock()


def _templates(needed: Iterable[str]) -> dict[str, dict[str, str]]:
    """The account's templates by id (for their labels), fetched once and again when one is new."""
    cache: dict[str, dict[str, str]] = current_app.extensions.setdefault("simulator.templates", {})
    with _templates_lock:
        if any(template_id not in cache for template_id in needed):
            try:
                for template in _services().api.get_templates():
                    cache[str(template.get("template_id"))] = dict(template)
            except WeChatAPIError as exc:
                log.warning("simulator: cannot list templates: %s", exc)
        return dict(cache)


# ---- sending: the real webhook path -----------------------------------------------------------


@bp.post("/api/send")
def send() -> Response:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise BadInput("请求应为 JSON 对象")
    openid = _openid(payload.get("openid"))
    cid = payload.get("cid")
    cid = cid if isinstance(cid, str) and len(cid) <= MAX_CID else None
    fields, entry = _outgoing(openid, payload)
    if _guarded():
        # What was done and for whom, never what was typed (it may be an ID number).
        _audit(
            "simulator_send",
            f"模拟器：{openid} {_action_text(entry)}",
            {"openid": openid, "type": str(payload.get("type"))},
        )
    history = _history()
    sent = history.append(
        openid,
        {**entry, "time": time.time(), "cid": cid},
    )
    exchange, shown = _post_to_webhook(fields)
    items = [sent]
    if shown is not None:
        items.append(history.append(openid, {**shown, "time": time.time()}))
    return jsonify(items=items, exchange=exchange)


def _action_text(entry: Item) -> str:
    """The chat's note for an action (点击菜单「…」, 关注了公众号 …); typed text is not repeated."""
    return "发送了一条文字消息" if entry.get("type") == "text" else str(entry.get("content", ""))


def _outgoing(openid: str, payload: dict[str, Any]) -> tuple[dict[str, Any], Item]:
    """The message WeChat would send for what the user did, and how the chat shows the action."""
    kind = payload.get("type")
    if kind == "text":
        content = payload.get("content")
        if not isinstance(content, str) or not content.strip():
            raise BadInput("不能发送空白消息")
        if len(content) > MAX_TEXT:
            raise BadInput(f"消息太长了，最多 {MAX_TEXT} 字")
        return text_message(openid, content), {"side": "user", "type": "text", "content": content}
    if kind == "voice":
        said = payload.get("content")
        if not isinstance(said, str) or not said.strip():
            raise BadInput("请先输入要说的话")
        if len(said) > MAX_TEXT:
            raise BadInput(f"消息太长了，最多 {MAX_TEXT} 字")
        return voice_message(openid, said), {"side": "user", "type": "voice", "content": said}
    if kind == "click":
        key = payload.get("key")
        if not isinstance(key, str) or not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise BadInput("菜单 key 应为 1-128 字节")
        return event_message(openid, "CLICK", key), _note(f"点击菜单「{_menu_label(key)}」")
    if kind == "view":
        url = payload.get("url")
        if (
            not isinstance(url, str)
            or not url.startswith(("http://", "https://"))
            or len(url.encode("utf-8")) > MAX_URL_BYTES
        ):
            raise BadInput("链接应以 http:// 或 https:// 开头")
        return event_message(openid, "VIEW", url), _note(f"打开菜单链接 {url}")
    if kind == "subscribe":
        return event_message(openid, "subscribe"), _note("关注了公众号", event="subscribe")
    if kind == "unsubscribe":
        return event_message(openid, "unsubscribe"), _note("取消关注了公众号", event="unsubscribe")
    if kind == "scan":
        return _scan(openid, payload.get("scene"))
    raise BadInput("不支持的操作")


def _scan(openid: str, scene: Any) -> tuple[dict[str, Any], Item]:
    """A scene QR code: SCAN for a follower; for anyone else WeChat first asks them to follow,
    then sends subscribe with EventKey qrscene_<scene>."""
    if not isinstance(scene, str) or not 1 <= len(scene.strip()) <= MAX_SCENE:
        raise BadInput(f"场景值应为 1-{MAX_SCENE} 个字符")
    scene = scene.strip()
    ticket = fake_ticket(scene)
    if _history().subscribed(openid):
        return event_message(openid, "SCAN", scene, Ticket=ticket), _note(
            f"扫描二维码（场景值 {scene}）"
        )
    return event_message(openid, "subscribe", f"qrscene_{scene}", Ticket=ticket), _note(
        f"扫描二维码并关注了公众号（场景值 {scene}）", event="subscribe"
    )


def _note(content: str, *, event: str | None = None) -> Item:
    note: Item = {"side": "system", "type": "note", "content": content}
    if event:
        note["event"] = event
    return note


def _post_to_webhook(fields: dict[str, Any]) -> tuple[dict[str, Any], Item | None]:
    """POST the message to /wechat as WeChat would; (what went over the wire, what to show)."""
    bot = _bot()
    mode = _mode(_settings())
    xml = build_inbound_xml(fields)
    query, body = bot.protocol.build_request(xml, mode, openid=str(fields["FromUserName"]))
    started = time.perf_counter()
    response = current_app.test_client().post(
        "/wechat", query_string=query, data=body, content_type="text/xml"
    )
    ms = round((time.perf_counter() - started) * 1000)
    exchange: dict[str, Any] = {
        "mode": mode.value,
        "url": "/wechat?" + urlencode(query),
        "request_xml": xml,
        "request_body": body.decode("utf-8"),
        "status": response.status_code,
        "reply_body": response.get_data(as_text=True),
        "reply_xml": None,
        "ms": ms,
    }
    if response.status_code != 200:
        return exchange, {**_note(f"{UNAVAILABLE}（HTTP {response.status_code}）"), "ms": ms}
    try:
        reply_xml = open_reply_xml(bot.protocol, response.data)
        shown = shown_reply(reply_xml) if reply_xml is not None else None
    except (ProtocolError, UnicodeDecodeError) as exc:
        return exchange, {**_note(f"无法解析公众号的回复：{exc}"), "ms": ms}
    exchange["reply_xml"] = reply_xml
    if shown is None:
        return exchange, None
    return exchange, {**shown, "side": "account", "source": "reply", "ms": ms}
