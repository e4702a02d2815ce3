"""Shared set-up for the team tests: volunteers and teams made through the services, and the
chat path to a registration summary. (Named test_team_* to live beside them; no tests here.)"""

from __future__ import annotations

import itertools
from typing import Any

from click.testing import Result
from flask import Flask

from domain import team_names
from domain.idcard import compute_check_digit, parse_id_number
from infra.db import Database
from models.team import Team
from sandbox.fake_wechat import FakeWeChatState
from services import teams, volunteers
from tests.wechat_user import WeChatUser

_sequence = itertools.count(1)

SOCIETY_TEAM = "甘肃省农学会科技志愿服务队"


def id_number() -> str:
    """A valid, unique ID number of an adult (born 1990)."""
    seq = next(_sequence)
    first17 = f"620102{19900101 + seq % 28:08d}{seq % 1000:03d}"
    return first17 + compute_check_digit(first17)


def add_volunteer(
    app: Flask,
    openid: str,
    *,
    name: str = "张三",
    phone: str = "13812345678",
    skills: tuple[str, ...] = ("科学普及",),
) -> str:
    """A registered volunteer; returns the volunteer number."""
    services = app.extensions["services"]
    form: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "education": "本科",
        "prefecture_code": "620100",
        "county_code": "620102",
        "employer": None,
        "occupation": "科研人员",
        "skills": list(skills),
        "specialty": None,
        "service_times": ["周末"],
    }
    with services.db.Session.begin() as session:
        volunteer = volunteers.register(
            session,
            openid=openid,
            card=parse_id_number(id_number()),
            form=form,
            pii=services.pii,
        )
        return volunteer.volunteer_no


def add_team(
    db: Database,
    name: str,
    *,
    kind: str = team_names.SOCIETY,
    registrant: str = "oRegistrant0000000000000001",
    approved: bool = True,
    parent_id: int | None = None,
    prefecture_code: str | None = "620000",
    county_code: str | None = None,
    auto_approve: bool = False,
    captain: tuple[str, str] = ("李队长", "13900001111"),
) -> Team:
    """A team registered (and approved) through the services, as the flow and CLI would.
    `captain` (name, phone): give the registrant's to make them the 队长 (「我是队长」); by
    default the captain is someone else and the registrant is one of the 管理员."""
    with db.Session.begin() as session:
        form = teams.TeamForm(
            kind=kind,
            name=name,
            parent_id=parent_id,
            prefecture_code=prefecture_code,
            county_code=county_code,
            host_org="测试单位",
            captain_name=captain[0],
            captain_phone=captain[1],
            contact_phone="0931-8812345",
            description="测试队伍",
            service_areas=("科学普及",),
        )
        team = teams.register(session, openid=registrant, form=form)
        if approved:
            teams.approve(session, team.id)
        if auto_approve:
            teams.set_auto_approve(session, team.id, True)
        session.flush()
        return team


def as_volunteer(app: Flask, user: WeChatUser, **fields: Any) -> WeChatUser:
    """`user`, registered as a volunteer (add_volunteer's fields): only volunteers register or
    join teams."""
    add_volunteer(app, user.openid, **fields)
    return user


def led_team(
    app: Flask, db: Database, captain: WeChatUser, name: str = "张三", team: str = SOCIETY_TEAM
) -> tuple[Team, str]:
    """A team registered by `captain`, a volunteer named `name` (phone 13812345678), as its 队长
    (「我是队长」); the team and the captain's volunteer number."""
    number = add_volunteer(app, captain.openid, name=name)
    return add_team(db, team, registrant=captain.openid, captain=(name, "13812345678")), number


def add_committee(db: Database, society: Team, subject: str = "植物保护", **team: Any) -> Team:
    """The 「<society's name><subject>专委会支队」 under a society's team (add_team's options)."""
    name = f"{society.name}{subject}专委会支队"
    return add_team(db, name, kind="committee", parent_id=society.id, **team)


def seed_root(db: Database) -> Team:
    with db.Session.begin() as session:
        return teams.seed_root(session)


def fill_details(user: WeChatUser) -> str:
    """From the 依托单位 question to the summary, as an admin whose captain is someone else;
    returns the summary."""
    assert "担任什么职务" in user.say("甘肃省农学会")
    assert "队长的真实姓名" in user.say("2")
    assert "队长的手机号" in user.say("张三")
    assert "联系电话" in user.say("13812345678")
    assert "介绍队伍" in user.say("同上")
    assert "服务领域" in user.say("面向农村开展农技培训和科普讲座")
    return user.say("1 2")


def team_by_name(db: Database, name: str) -> Team | None:
    with db.Session() as session:
        return teams.find(session, name)


def statuses_named(db: Database, name: str) -> list[str]:
    """The statuses of every registration of the name, rejected and withdrawn ones too, sorted."""
    with db.Session() as session:
        return sorted(t.status for t, _ in teams.hierarchy(session) if t.name == name)


# The team notices' template (TEAM_NOTICE_TEMPLATE_ID), for the fallback outside the 48 hours.
TEMPLATE_ID = "kjzyTeamReview000000000000000000000000000001"


def add_review_template(fake_wechat: FakeWeChatState) -> None:
    fake_wechat.add_template(
        {
            "template_id": TEMPLATE_ID,
            "title": "审核结果通知",
            "primary_industry": "政府与公共事业",
            "deputy_industry": "公共事业|非盈利机构",
            "content": "队伍名称:{{thing1.DATA}}\n审核结果:{{phrase2.DATA}}\n"
            "审核时间:{{time3.DATA}}\n备注:{{thing4.DATA}}\n",
            "example": "",
        }
    )


def invoke(runner: Any, *args: str) -> Result:
    """flask --app app teams <args>."""
    result: Result = runner.invoke(args=["teams", *args])
    return result


def texts(fake_wechat: FakeWeChatState, openid: str) -> list[str]:
    """The customer-service texts `openid` received, oldest first."""
    return [m["content"] for m in fake_wechat.messages(openid) if m["type"] == "text"]
