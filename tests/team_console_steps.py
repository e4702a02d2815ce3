"""Steps for the team console tests: an admin with a team, the link from chat, forms with their
CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from models.team import Team
from tests.test_team_support import add_team, add_volunteer, seed_root
from tests.wechat_user import WeChatUser


@dataclass
class Admin:
    user: WeChatUser
    team: Team
    volunteer_no: str
    client: FlaskClient


def team_admin(
    app: Flask,
    make_user: Callable[..., WeChatUser],
    team_name: str = "甘肃省农学会科技志愿服务队",
    *,
    name: str = "王管理",
    captain: bool = False,
) -> Admin:
    """A registered volunteer who registered (and so administers) an approved team, as its
    队长 when `captain`, else as one of its 管理员."""
    db = app.extensions["services"].db
    seed_root(db)
    user = make_user()
    number = add_volunteer(app, user.openid, name=name)
    team = add_team(
        db,
        team_name,
        registrant=user.openid,
        captain=(name, "13812345678") if captain else ("李队长", "13900001111"),
    )
    return Admin(user, team, number, app.test_client())


def link_from_chat(user: WeChatUser) -> str:
    """管理后台 in chat; the path of the personal link in the reply."""
    reply = user.say("管理后台")
    found = re.search(r'href="https?://[^/"]+(/team/login/[^"]+)"', reply)
    assert found, reply
    return found.group(1)


def log_in(admin: Admin) -> None:
    answer = admin.client.get(link_from_chat(admin.user))
    assert answer.status_code == 302, answer.data[:300]
    assert answer.headers["Location"].endswith("/team/")


def page_text(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, (answer.status_code, answer.data[:500])
    return answer.data.decode()


def csrf(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text(client, path))
    assert found, "no CSRF token on " + path
    return found.group(1)


def submit(client: FlaskClient, page: str, action: str, data: dict[str, Any] | None = None) -> Any:
    """A form of `page` posted to `action`, with the page's CSRF token; follows the redirect."""
    return client.post(
        action, data={"csrf_token": csrf(client, page), **(data or {})}, follow_redirects=True
    )


def xlsx_rows(data: bytes) -> list[list[str]]:
    """The cells of an exported sheet as text, row by row."""
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
