"""Set-up shared by the 通知匹配志愿者 tests: a need of 兰州市城关区, the fixed set of volunteers
around it who must and must not get its notice, and operators logged in to the console."""

from __future__ import annotations

from typing import NamedTuple

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.db import Database
from models.volunteer import Volunteer
from services.needs import post_need, publish_need
from services.operators import Scope
from tests.test_console_support import add_operator, add_template, add_volunteers, login
from tests.test_needs_matching import DRAFT, volunteer

FIELD = DRAFT.field  # 应急安全, a need of 兰州市城关区


def matched_set(db: Database) -> dict[str, list[str]]:
    """A fixed data set around the need: who must and must not get the notice."""
    same_county = volunteer(db, "甲", "620100", "620102", (FIELD,), ("周末",))
    same_city = volunteer(db, "乙", "620100", "620103", (FIELD, "科学普及"), ("工作日白天",))
    other_city = volunteer(db, "丙", "620500", "620502", (FIELD,), ("周末",))
    hidden = volunteer(db, "隐", "620100", "620102", (FIELD,), ("周末",), visible=False)
    other_skill = volunteer(db, "丁", "620100", "620102", ("科学普及",), ("周末",))
    (unfollowed,) = add_volunteers(db, 1, skills=(FIELD,), followed=False)
    with db.Session.begin() as session:
        row = session.scalars(select(Volunteer).where(Volunteer.openid == unfollowed)).one()
        row.skills_visible = True
    return {
        "lanzhou": [same_county, same_city],
        "province": [same_county, same_city, other_city],
        "never": [hidden, other_skill, unfollowed],
    }


def published_need(db: Database, *, publish: bool = True) -> int:
    with db.Session.begin() as session:
        need = post_need(session, "oPoster", DRAFT)
        if publish:
            publish_need(need, Scope(), "sheng")
        return need.id


class MatchedNeed(NamedTuple):
    template: int
    people: dict[str, list[str]]
    need_id: int


def matched_need(db: Database) -> MatchedNeed:
    """A notice template, the matched set (matched_set) and the published need, made in that
    order."""
    template = add_template(db)
    people = matched_set(db)
    return MatchedNeed(template, people, published_need(db))


def operator(app: Flask, db: Database, name: str, role: str) -> FlaskClient:
    """A console client logged in as a new operator `name` with `role`."""
    add_operator(db, name, role)
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client
