"""WeChatAPI against the fake WeChat server and a real Redis: tokens, retries, typed errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
import redis
import requests

from config import Settings
from infra.redis import Keys, connect
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_SIGNUP, FakeWeChatState
from wechat.client import WeChatAPI
from wechat.errors import (
    BusyError,
    CustomerServiceWindowError,
    InvalidOpenIdError,
    InvalidTemplateError,
    RateLimitedError,
    TemplateDataError,
    TokenInvalidError,
    UserRefusedError,
    UserUnsubscribedError,
    WeChatAPIError,
    WeChatUnavailableError,
)
from wechat.menu import menu_from_selfmenu_info

OPENID = "oVolunteer0000000000000001"
STABLE_TOKEN = "/cgi-bin/stable_token"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
SIGNUP_DATA = {
    "thing1": "青少年科普进社区",
    "time2": "2024年5月18日 09:00",
    "thing3": "兰州市城关区科技馆",
    "phrase4": "已报名",
}


MakeAPI = Callable[..., WeChatAPI]


@pytest.fixture
def make_api(settings: Settings, redis_client: redis.Redis) -> Iterator[MakeAPI]:
    """Builds more WeChatAPI instances (another process, in effect) with their own connection."""
    made: list[tuple[WeChatAPI, redis.Redis]] = []

    def make(custom: Settings | None = None) -> WeChatAPI:
        used = custom or settings
        client = connect(used)
        api = WeChatAPI(used, client, Keys(used.redis_prefix))
        made.append((api, client))
        return api

    yield make
    for api, client in made:
        api.close()
        client.close()


def stable_token_calls(fake: FakeWeChatState) -> int:
    return len(fake.calls_to(STABLE_TOKEN))


# ---- access token -------------------------------------------------------------------------


def test_token_is_fetched_once_and_shared(
    wechat_api: WeChatAPI, make_api: MakeAPI, fake_wechat: FakeWeChatState
) -> None:
    other = make_api()
    wechat_api.send_text(OPENID, "一")
    other.send_text(OPENID, "二")

    assert stable_token_calls(fake_wechat) == 1
    assert wechat_api.access_token() == other.access_token()
    assert fake_wechat.calls_to(STABLE_TOKEN)[0].json["force_refresh"] is False


def test_token_is_cached_with_a_safety_margin(
    wechat_api: WeChatAPI, settings: Settings, redis_client: redis.Redis
) -> None:
    wechat_api.access_token()

    ttl = redis_client.ttl(Keys(settings.redis_prefix).access_token(settings.wechat_app_id))
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


def test_concurrent_refresh_makes_one_stable_token_call(
    make_api: MakeAPI, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.slow(STABLE_TOKEN, 0.3)
    apis = [make_api() for _ in range(6)]
    barrier = threading.Barrier(len(apis))
    tokens: list[str] = []

    def fetch(api: WeChatAPI) -> None:
        barrier.wait()
        tokens.append(api.access_token())

    threads = [threading.Thread(target=fetch, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(tokens) == len(apis)
    assert len(set(tokens)) == 1
    assert stable_token_calls(fake_wechat) == 1


def test_expired_token_is_refreshed_once_and_the_call_retried(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    wechat_api.send_text(OPENID, "第一条")
    old_token = wechat_api.access_token()
    fake_wechat.expire_tokens()

    wechat_api.send_text(OPENID, "第二条")

    assert [c.errcode for c in fake_wechat.calls_to(CUSTOM_SEND)] == [0, 42001, 0]
    refreshes = fake_wechat.calls_to(STABLE_TOKEN)
    assert [c.json["force_refresh"] for c in refreshes] == [False, True]
    assert wechat_api.access_token() != old_token
    assert [m["content"] for m in fake_wechat.messages(OPENID)] == ["第一条", "第二条"]


def test_concurrent_token_errors_force_one_refresh(
    make_api: MakeAPI, fake_wechat: FakeWeChatState
) -> None:
    apis = [make_api() for _ in range(4)]
    apis[0].access_token()
    fake_wechat.expire_tokens()
    fake_wechat.slow(CUSTOM_SEND, 0.2)
    barrier = threading.Barrier(len(apis))
    errors: list[Exception] = []

    def send(api: WeChatAPI) -> None:
        barrier.wait()
        try:
            api.send_text(OPENID, "hi")
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    forced = [c for c in fake_wechat.calls_to(STABLE_TOKEN) if c.json["force_refresh"]]
    assert len(forced) == 1
    assert len(fake_wechat.messages(OPENID)) == len(apis)


def test_two_token_errors_in_a_row_raise_after_two_attempts(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    wechat_api.access_token()
    fake_wechat.fail(CUSTOM_SEND, 40001, times=2)

    with pytest.raises(TokenInvalidError) as caught:
        wechat_api.send_text(OPENID, "hi")

    assert caught.value.errcode == 40001
    assert caught.value.api == CUSTOM_SEND
    assert len(fake_wechat.calls_to(CUSTOM_SEND)) == 2
    assert stable_token_calls(fake_wechat) == 2


def test_wrong_secret_is_reported_by_the_token_call(
    make_api: MakeAPI, settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    api = make_api(settings.with_overrides(wechat_app_secret="wrong-secret"))

    with pytest.raises(WeChatAPIError) as caught:
        api.send_text(OPENID, "hi")

    assert caught.value.errcode == 40125
    assert caught.value.api == STABLE_TOKEN
    assert fake_wechat.calls_to(CUSTOM_SEND) == []


# ---- typed errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "error_class"),
    [
        (-1, BusyError),
        (45009, RateLimitedError),
        (40037, InvalidTemplateError),
        (47003, TemplateDataError),
        (40003, InvalidOpenIdError),
        (43004, UserUnsubscribedError),
        (43101, UserRefusedError),
        (48001, WeChatAPIError),
    ],
)
def test_template_errors_are_typed(
    wechat_api: WeChatAPI,
    fake_wechat: FakeWeChatState,
    errcode: int,
    error_class: type[WeChatAPIError],
) -> None:
    fake_wechat.fail(TEMPLATE_SEND, errcode)

    with pytest.raises(error_class) as caught:
        wechat_api.send_template(OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA)

    assert type(caught.value) is error_class
    assert caught.value.errcode == errcode
    assert len(fake_wechat.calls_to(TEMPLATE_SEND)) == 1


def test_rate_limit_is_not_retried(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    fake_wechat.fail(TEMPLATE_SEND, 45009, times=2)

    with pytest.raises(RateLimitedError) as caught:
        wechat_api.send_template(OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA)

    assert caught.value.errcode == 45009
    assert len(fake_wechat.calls_to(TEMPLATE_SEND)) == 1


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_customer_service_window_errors(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState, errcode: int
) -> None:
    fake_wechat.fail(CUSTOM_SEND, errcode)

    with pytest.raises(CustomerServiceWindowError) as caught:
        wechat_api.send_text(OPENID, "hi")

    assert caught.value.errcode == errcode


def test_unsubscribed_user_gets_43004(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    fake_wechat.mark_unsubscribed(OPENID)

    with pytest.raises(UserUnsubscribedError):
        wechat_api.send_text(OPENID, "hi")
    with pytest.raises(UserUnsubscribedError):
        wechat_api.send_template(OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA)
    assert wechat_api.user_info(OPENID) == {"subscribe": 0, "openid": OPENID}


def test_refusing_user_gets_43101_for_templates_only(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.mark_refusing(OPENID)

    with pytest.raises(UserRefusedError) as caught:
        wechat_api.send_template(OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA)
    wechat_api.send_text(OPENID, "客服消息照常")

    assert caught.value.errcode == 43101
    assert [m["type"] for m in fake_wechat.messages(OPENID)] == ["text"]


def test_template_data_broken_by_the_rules_gives_47003(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    data = {**SIGNUP_DATA, "phrase4": "报名成功等待审核"}

    with pytest.raises(TemplateDataError):
        wechat_api.send_template(OPENID, TEMPLATE_ACTIVITY_SIGNUP, data)


def test_slow_api_beyond_the_timeout_is_unavailable(
    make_api: MakeAPI, settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    api = make_api(settings.with_overrides(api_timeout_seconds=0.3))
    api.access_token()
    fake_wechat.slow(CUSTOM_SEND, 1.0)

    with pytest.raises(WeChatUnavailableError) as caught:
        api.send_text(OPENID, "hi")

    assert caught.value.errcode == -2
    assert caught.value.api == CUSTOM_SEND


def test_unreachable_server_is_unavailable(make_api: MakeAPI, settings: Settings) -> None:
    api = make_api(settings.with_overrides(wechat_api_base_url="http://127.0.0.1:9"))

    with pytest.raises(WeChatUnavailableError) as caught:
        api.send_text(OPENID, "hi")

    assert caught.value.api == STABLE_TOKEN


# ---- messages -------------------------------------------------------------------------------


def test_send_template_carries_client_msg_id_and_is_deduplicated(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    first = wechat_api.send_template(
        OPENID,
        TEMPLATE_ACTIVITY_SIGNUP,
        SIGNUP_DATA,
        url="https://example.org/activity/1",
        client_msg_id="signup-42",
    )
    second = wechat_api.send_template(
        OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA, client_msg_id="signup-42"
    )

    assert first == second
    body = fake_wechat.calls_to(TEMPLATE_SEND)[0].json
    assert body["client_msg_id"] == "signup-42"
    assert body["url"] == "https://example.org/activity/1"
    assert body["data"]["thing1"] == {"value": "青少年科普进社区"}
    delivered = fake_wechat.messages(OPENID)
    assert len(delivered) == 1
    assert delivered[0]["data"] == SIGNUP_DATA
    assert fake_wechat.duplicates == [
        {"openid": OPENID, "client_msg_id": "signup-42", "msgid": first}
    ]


def test_another_client_msg_id_is_delivered(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    first = wechat_api.send_template(
        OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA, client_msg_id="a"
    )
    second = wechat_api.send_template(
        OPENID, TEMPLATE_ACTIVITY_SIGNUP, SIGNUP_DATA, client_msg_id="b"
    )

    assert first != second
    assert len(fake_wechat.messages(OPENID)) == 2


def test_chinese_text_arrives_unescaped(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    text = "张三，欢迎加入甘肃科技志愿服务！"

    wechat_api.send_text(OPENID, text)

    raw = fake_wechat.calls_to(CUSTOM_SEND)[0].body
    assert text in raw
    assert "\\u" not in raw
    assert fake_wechat.messages(OPENID)[0]["content"] == text


def test_send_news(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    article = {
        "title": "科技志愿服务月启动",
        "description": "五月全省开展科普活动",
        "url": "https://example.org/news/1",
        "picurl": "https://example.org/news/1.jpg",
    }

    wechat_api.send_news(OPENID, [article])

    [message] = fake_wechat.messages(OPENID)
    assert message["type"] == "news"
    assert message["articles"] == [article]


def test_each_call_logs_one_line_without_the_content(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wechat.client"):
        wechat_api.send_text(OPENID, "秘密内容")

    lines = [r.getMessage() for r in caplog.records if r.name == "wechat.client"]
    assert len(lines) == 2
    assert lines[0].startswith(f"wechat api {STABLE_TOKEN} errcode=0 duration_ms=")
    assert lines[1].startswith(f"wechat api {CUSTOM_SEND} errcode=0 duration_ms=")
    assert all("秘密内容" not in line and OPENID not in line for line in lines)


# ---- menu, users, QR codes, templates -------------------------------------------------------


MENU = {
    "button": [
        {"type": "click", "name": "志愿报名", "key": "VOLUNTEER_REGISTER"},
        {
            "name": "活动",
            "sub_button": [
                {"type": "click", "name": "近期活动", "key": "ACTIVITY_LIST"},
                {"type": "view", "name": "服务指南", "url": "https://example.org/guide"},
            ],
        },
    ]
}


def test_menu_create_get_delete_round_trip(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState
) -> None:
    wechat_api.create_menu(MENU)

    live = wechat_api.get_menu()
    assert live["is_menu_open"] == 1
    assert menu_from_selfmenu_info(live) == MENU
    assert "志愿报名" in fake_wechat.calls_to("/cgi-bin/menu/create")[0].body

    wechat_api.delete_menu()
    assert menu_from_selfmenu_info(wechat_api.get_menu()) == {"button": []}


def test_user_info(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    info = wechat_api.user_info(OPENID)

    assert info["subscribe"] == 1
    assert info["openid"] == OPENID
    assert fake_wechat.calls_to("/cgi-bin/user/info")[0].query["lang"] == "zh_CN"


def test_create_permanent_qrcode(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState, fake_wechat_url: str
) -> None:
    qrcode = wechat_api.create_qrcode("activity-17")

    assert qrcode["ticket"]
    assert qrcode["url"].startswith("http://weixin.qq.com/q/")
    assert qrcode["show_url"].startswith(f"{fake_wechat_url}/cgi-bin/showqrcode?ticket=")
    body = fake_wechat.calls_to("/cgi-bin/qrcode/create")[0].json
    assert body == {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": "activity-17"}},
    }
    image = requests.get(qrcode["show_url"], timeout=5)
    assert image.status_code == 200
    assert "activity-17" in image.text


def test_create_temporary_qrcode(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    qrcode = wechat_api.create_qrcode("activity-18", permanent=False, expire_seconds=3600)

    assert qrcode["expire_seconds"] == 3600
    assert fake_wechat.calls_to("/cgi-bin/qrcode/create")[0].json["action_name"] == "QR_STR_SCENE"


@pytest.mark.parametrize("scene", ["", "x" * 65])
def test_qrcode_scene_length_is_checked_before_calling(
    wechat_api: WeChatAPI, fake_wechat: FakeWeChatState, scene: str
) -> None:
    with pytest.raises(ValueError):
        wechat_api.create_qrcode(scene)
    assert fake_wechat.calls == []


def test_get_templates(wechat_api: WeChatAPI, fake_wechat: FakeWeChatState) -> None:
    templates = wechat_api.get_templates()

    assert [t["template_id"] for t in templates] == [
        t["template_id"] for t in fake_wechat.templates
    ]
    assert "{{thing1.DATA}}" in templates[0]["content"]
