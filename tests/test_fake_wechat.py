"""The fake WeChat server itself, over HTTP: tokens, checks, failure injection, /_fake/ controls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.fake_wechat import (
    TEMPLATE_ACTIVITY_REMINDER,
    FakeWeChatServer,
    FakeWeChatState,
)
from tests.fixtures_wechat import TEST_APP_ID, TEST_APP_SECRET

OPENID = "oVolunteer0000000000000002"


class FakeClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self.http.get(self.base_url + path, params=params, timeout=5).json()

    def post(self, path: str, body: Any, **params: str) -> dict[str, Any]:
        return self.http.post(self.base_url + path, json=body, params=params, timeout=5).json()

    def stable_token(self, force_refresh: bool = False, **changes: str) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": TEST_APP_ID,
            "secret": TEST_APP_SECRET,
            "force_refresh": force_refresh,
            **changes,
        }
        return self.post("/cgi-bin/stable_token", body)

    def token(self) -> str:
        return str(self.stable_token()["access_token"])


@pytest.fixture(params=["threaded", "asyncio"])
def client(
    request: pytest.FixtureRequest,
    fake_wechat_server: FakeWeChatServer,
    fake_wechat: FakeWeChatState,
) -> Iterator[FakeClient]:
    """Each test runs against both servers of the one fake: the threaded one of the tests and
    the asyncio one of the benchmarks."""
    if request.param == "threaded":
        url = fake_wechat_server.url
    else:
        url = request.getfixturevalue("fast_fake_wechat_server").url
    http = FakeClient(url)
    yield http
    http.http.close()


def send_text(client: FakeClient, token: str, content: str = "你好") -> dict[str, Any]:
    body = {"touser": OPENID, "msgtype": "text", "text": {"content": content}}
    return client.post("/cgi-bin/message/custom/send", body, access_token=token)


# ---- tokens -----------------------------------------------------------------------------------


def test_stable_token_is_the_same_while_valid(client: FakeClient) -> None:
    first = client.stable_token()
    second = client.stable_token()

    assert first["access_token"] == second["access_token"]
    assert 7190 <= second["expires_in"] <= 7200
    assert "errcode" not in first


def test_force_refresh_replaces_the_token(client: FakeClient) -> None:
    old = client.token()
    new = client.stable_token(force_refresh=True)["access_token"]

    assert new != old
    assert send_text(client, old)["errcode"] == 40001
    assert send_text(client, new)["errcode"] == 0


def test_expired_tokens_answer_42001_until_refreshed(
    client: FakeClient, fake_wechat: FakeWeChatState
) -> None:
    old = client.token()
    fake_wechat.expire_tokens()

    assert send_text(client, old)["errcode"] == 42001
    new = client.token()
    assert new != old
    assert send_text(client, new)["errcode"] == 0


@pytest.mark.parametrize(
    ("changes", "errcode"),
    [({"appid": "wx0000000000000000"}, 40013), ({"secret": "wrong"}, 40125)],
)
def test_wrong_credentials(client: FakeClient, changes: dict[str, str], errcode: int) -> None:
    assert client.stable_token(**changes)["errcode"] == errcode


def test_classic_token_endpoint(client: FakeClient) -> None:
    answer = client.get(
        "/cgi-bin/token", grant_type="client_credential", appid=TEST_APP_ID, secret=TEST_APP_SECRET
    )

    assert answer["expires_in"] == 7200
    assert send_text(client, answer["access_token"])["errcode"] == 0


@pytest.mark.parametrize("token", [None, "unknown-token"])
def test_api_calls_need_a_known_token(
    client: FakeClient, fake_wechat: FakeWeChatState, token: str | None
) -> None:
    params = {"access_token": token} if token else {}

    answer = client.get("/cgi-bin/get_current_selfmenu_info", **params)

    assert answer["errcode"] == 40001
    assert fake_wechat.calls[-1].errcode == 40001


# ---- API behaviour ------------------------------------------------------------------------------


def test_menu_get_without_a_menu_is_46003(client: FakeClient) -> None:
    assert client.get("/cgi-bin/menu/get", access_token=client.token())["errcode"] == 46003


def test_menu_create_checks_the_shape(client: FakeClient, fake_wechat: FakeWeChatState) -> None:
    token = client.token()
    four = {"button": [{"type": "click", "name": f"b{i}", "key": f"K_{i}"} for i in range(4)]}

    assert client.post("/cgi-bin/menu/create", four, access_token=token)["errcode"] == 40016
    assert fake_wechat.menu is None


def test_menu_get_lists_sub_buttons(client: FakeClient) -> None:
    token = client.token()
    menu = {
        "button": [{"name": "活动", "sub_button": [{"type": "click", "name": "a", "key": "A_B"}]}]
    }
    client.post("/cgi-bin/menu/create", menu, access_token=token)

    answer = client.get("/cgi-bin/menu/get", access_token=token)

    assert answer["menu"]["button"][0]["sub_button"] == menu["button"][0]["sub_button"]


def test_template_send_checks_template_and_values(client: FakeClient) -> None:
    token = client.token()
    data = {
        "thing1": {"value": "农业技术下乡服务"},
        "time2": {"value": "2024年6月1日 14:30"},
        "thing3": {"value": "定西市安定区香泉镇"},
        "thing4": {"value": "请提前15分钟到场签到"},
    }
    path = "/cgi-bin/message/template/send"
    unknown = {"touser": OPENID, "template_id": "nope", "data": data}
    too_long = {
        "touser": OPENID,
        "template_id": TEMPLATE_ACTIVITY_REMINDER,
        "data": {**data, "thing1": {"value": "很" * 21}},
    }
    good = {"touser": OPENID, "template_id": TEMPLATE_ACTIVITY_REMINDER, "data": data}

    assert client.post(path, unknown, access_token=token)["errcode"] == 40037
    assert client.post(path, too_long, access_token=token)["errcode"] == 47003
    answer = client.post(path, good, access_token=token)
    assert answer["errcode"] == 0
    assert isinstance(answer["msgid"], int)


def test_custom_send_rejects_a_bad_openid(client: FakeClient) -> None:
    body = {"touser": "x", "msgtype": "text", "text": {"content": "hi"}}

    answer = client.post("/cgi-bin/message/custom/send", body, access_token=client.token())

    assert answer["errcode"] == 40003


def test_calls_are_recorded(client: FakeClient, fake_wechat: FakeWeChatState) -> None:
    token = client.token()
    send_text(client, token, "记录")

    stable, send = fake_wechat.calls
    assert stable.api == "/cgi-bin/stable_token"
    assert send.api == "/cgi-bin/message/custom/send"
    assert send.method == "POST"
    assert send.query == {"access_token": token}
    assert send.json["text"]["content"] == "记录"
    assert send.errcode == 0
    assert send.time <= time.time()


# ---- failure injection and HTTP controls ------------------------------------------------------


def test_fail_answers_the_errcode_the_given_number_of_times(
    client: FakeClient, fake_wechat: FakeWeChatState
) -> None:
    token = client.token()
    fake_wechat.fail("/cgi-bin/message/custom/send", 45009, times=2)

    codes = [send_text(client, token)["errcode"] for _ in range(3)]

    assert codes == [45009, 45009, 0]
    assert len(fake_wechat.messages(OPENID)) == 1


def test_http_fail_slow_and_reset(client: FakeClient, fake_wechat: FakeWeChatState) -> None:
    token = client.token()
    client.post("/_fake/fail", {"api": "/cgi-bin/message/custom/send", "errcode": -1, "times": 1})
    client.post("/_fake/slow", {"api": "/cgi-bin/message/custom/send", "seconds": 0.3})

    started = time.monotonic()
    assert send_text(client, token)["errcode"] == -1
    assert time.monotonic() - started >= 0.3

    client.post("/_fake/reset", {})
    assert fake_wechat.calls == []
    assert send_text(client, token)["errcode"] == 40001  # reset forgets tokens too


def test_http_calls_and_messages(client: FakeClient) -> None:
    token = client.token()
    send_text(client, token, "第一条")
    send_text(client, token, "第二条")

    calls = client.get("/_fake/calls", api="/cgi-bin/message/custom/send")["calls"]
    messages = client.get("/_fake/messages", openid=OPENID)["messages"]
    later = client.get("/_fake/messages", openid=OPENID, after=str(messages[0]["id"]))["messages"]

    assert [c["json"]["text"]["content"] for c in calls] == ["第一条", "第二条"]
    assert [m["content"] for m in messages] == ["第一条", "第二条"]
    assert messages[0]["id"] < messages[1]["id"]
    assert [m["content"] for m in later] == ["第二条"]


def test_http_user_controls(client: FakeClient) -> None:
    token = client.token()
    client.post("/_fake/unsubscribe", {"openid": OPENID})

    assert send_text(client, token)["errcode"] == 43004

    client.post("/_fake/expire_tokens", {})
    assert send_text(client, token)["errcode"] == 42001


def test_http_control_with_a_missing_field_is_400(fake_wechat_server: FakeWeChatServer) -> None:
    answer = requests.post(f"{fake_wechat_server.url}/_fake/fail", json={"api": "x"}, timeout=5)

    assert answer.status_code == 400


def test_server_runs_on_a_free_port_as_a_context_manager() -> None:
    with FakeWeChatServer("wx00000000sandbox", "secret") as server:
        answer = requests.get(f"{server.url}/cgi-bin/menu/get", timeout=5).json()
        assert answer["errcode"] == 40001
        assert server.state.calls[0].api == "/cgi-bin/menu/get"
    with pytest.raises(RuntimeError):
        _ = server.url
