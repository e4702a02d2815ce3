"""Two registrations of one name at the same moment: the database's unique constraint decides,
exactly one succeeds and the other gets the 「已被注册」 hint."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError

from domain import team_names
from infra.db import Database
from models.team import Team
from services import teams

NAME = "甘肃省农学会科技志愿服务队"


def form(name: str) -> teams.TeamForm:
    return teams.TeamForm(kind=team_names.SOCIETY, name=name, host_org="甘肃省农学会")


@pytest.fixture
def mariadb(db: Database) -> Database:
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers before the constraint is reached")
    return db


def test_simultaneous_registrations_of_one_name(mariadb: Database) -> None:
    first_flushed = threading.Event()
    second_inserting = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with mariadb.Session.begin() as session:
            teams.register(session, openid="oFirstRegistrant0000000001", form=form(NAME))
            first_flushed.set()
            # Hold the transaction open while the second one passes its own check and inserts.
            second_inserting.wait(5)
        outcomes["first"] = "saved"

    def second() -> None:
        first_flushed.wait(5)
        try:
            with mariadb.Session.begin() as session:
                # The first row is not committed yet, so this check cannot see it ...
                teams.check_name_free(session, "甘肃省农学会 科技志愿服务队")
                second_inserting.set()
                # ... and the insert waits on the unique index until the first commits.
                teams.register(
                    session,
                    openid="oSecondRegistrant000000001",
                    form=form("甘肃省农学会科技志愿服务队 "),
                )
            outcomes["second"] = "saved"
        except teams.NameTaken as exc:
            outcomes["second"] = exc.hint

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert outcomes["first"] == "saved"
    assert "已被注册" in outcomes["second"]
    with mariadb.Session() as session:
        saved = session.query(Team).all()
        assert [t.registrant_openid for t in saved] == ["oFirstRegistrant0000000001"]
        # Nothing half-saved: the loser has no admin row either.
        assert len(teams.admin_teams(session, "oSecondRegistrant000000001")) == 0


def test_name_key_is_unique_in_the_database(db: Database) -> None:
    """Even code that skips the service's check cannot store two spellings of one name."""
    with db.Session.begin() as session:
        teams.register(session, openid="oFirstRegistrant0000000001", form=form(NAME))
    with pytest.raises(IntegrityError), db.Session.begin() as session:
        session.add(
            Team(
                team_no="KT99999999",
                name="甘肃省农学会（科技）志愿服务队",
                name_key=team_names.name_key(NAME),
                kind="society",
                level="队",
                invite_code="ZZZZZZ",
                status="pending",
                needs_guidance=False,
                auto_approve=False,
            )
        )


def test_invite_codes_and_numbers_are_unique(db: Database) -> None:
    with db.Session.begin() as session:
        team = teams.register(session, openid="oFirstRegistrant0000000001", form=form(NAME))
        code, number = team.invite_code, team.team_no
    with pytest.raises(IntegrityError), db.Session.begin() as session:
        session.add(
            Team(
                team_no="KT99999998",
                name="兰州大学科技志愿服务队",
                name_key=team_names.name_key("兰州大学科技志愿服务队"),
                kind="unit",
                level="队",
                invite_code=code,
                status="pending",
                needs_guidance=False,
                auto_approve=False,
            )
        )
    with pytest.raises(IntegrityError), db.Session.begin() as session:
        session.add(
            Team(
                team_no=number,
                name="兰州大学科技志愿服务队",
                name_key=team_names.name_key("兰州大学科技志愿服务队"),
                kind="unit",
                level="队",
                invite_code="ZZZZZY",
                status="pending",
                needs_guidance=False,
                auto_approve=False,
            )
        )
