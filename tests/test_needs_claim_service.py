"""services.needs_claim: the claim of one need by two teams whose transactions overlap (the
second waits on the need's row lock and is then told which team took it), and the values a
need suggests for its activity."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from domain import clock
from infra.db import Database
from models.activity import DRAFT, Activity
from models.need import CLAIMED
from models.team import Team
from services import needs_claim, team_console
from services.needs import NeedError, find_need
from tests.needs_claim_support import User, admin_of_team, need_row, published_need


@pytest.fixture
def mariadb(db: Database) -> Database:
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers before the row lock is reached")
    return db


def _claim(
    db: Database,
    openid: str,
    team_id: int,
    need_no: str,
    hold: threading.Event | None,
    claimed: threading.Event | None,
) -> str:
    with db.Session() as session:
        who = team_console.admin_user(session, openid)
        team = session.get(Team, team_id)
        need = find_need(session, need_no)
        assert who is not None and team is not None and need is not None
        values = needs_claim.console_values(need, team, who)
    # The claim's row lock must be its transaction's first statement.
    with db.Session.begin() as session:
        team = session.get(Team, team_id)
        assert team is not None
        result = needs_claim.claim_need(session, need.id, team, who, values, publish=False)
        if claimed is not None:
            claimed.set()
        if hold is not None:
            hold.wait(5)  # keep the transaction (and the need's row lock) open a moment
    return result.team_name


def test_overlapping_claims_one_wins_the_other_waits_and_is_told(
    app: Flask, mariadb: Database, make_user: User
) -> None:
    need_no = published_need(mariadb)
    first, first_team = admin_of_team(app, make_user, "甘肃省农学会科技志愿服务队")
    second, second_team = admin_of_team(app, make_user, "甘肃省医学会科技志愿服务队")
    first_claimed, release = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def run_first() -> None:
        outcome["first"] = _claim(
            mariadb, first.openid, first_team.id, need_no, release, first_claimed
        )

    def run_second() -> None:
        first_claimed.wait(10)
        threading.Timer(0.3, release.set).start()  # the first commits while the second waits
        try:
            outcome["second"] = _claim(mariadb, second.openid, second_team.id, need_no, None, None)
        except NeedError as error:
            outcome["second"] = str(error)

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome["first"] == "甘肃省农学会科技志愿服务队"
    assert "已由「甘肃省农学会科技志愿服务队」认领" in outcome["second"]
    need = need_row(mariadb, need_no)
    assert need.status == CLAIMED and need.claimed_team_id == first_team.id
    with mariadb.Session() as session:
        made = session.scalars(select(Activity)).all()
    assert [(a.id, a.team_id, a.status) for a in made] == [(need.activity_id, first_team.id, DRAFT)]


def test_what_a_need_suggests_for_its_activity(db: Database) -> None:
    today = clock.beijing_date()
    dated = published_need(
        db, starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=4)
    )
    long_term = published_need(db, starts_on=None, ends_on=None, field="农业技术")
    over = published_need(db, starts_on=today - timedelta(days=9), ends_on=today)
    with db.Session() as session:
        values = needs_claim.activity_defaults(find_need(session, dated))  # type: ignore[arg-type]
        # The days still ahead: from tomorrow (the need began yesterday) to its last day.
        assert values["starts_at"].date() == today + timedelta(days=1)
        assert values["ends_at"].date() == today + timedelta(days=4)
        assert values["type"] == "应急科普" and values["capacity"] == 4
        assert values["title"] == "城关区东岗社区应急安全志愿服务"
        farming = needs_claim.activity_defaults(find_need(session, long_term))  # type: ignore[arg-type]
        assert farming["type"] == "农技服务" and "starts_at" not in farming
        assert "starts_at" not in needs_claim.activity_defaults(find_need(session, over))  # type: ignore[arg-type]
