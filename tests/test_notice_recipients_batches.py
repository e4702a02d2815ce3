"""A notice's recipient rows are built in keyset batches of a bounded size (so a million
recipients never sit in memory or in one statement), and the batches add up to exactly the
audience: nobody twice, nobody missed, nobody outside it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine, event, func, select

from infra.db import Database
from models.notice import R_QUEUED, NoticeRecipient
from models.volunteer import Volunteer
from services import notices
from services.notices.recipients import insert_recipients
from services.operators import Scope
from tests.test_console_support import add_volunteers, queue_notice


def _inserts(engine: Engine) -> list[str]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NOTICE_RECIPIENTS"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_recipients_are_inserted_in_bounded_batches(app: Flask, db: Database) -> None:
    wanted = add_volunteers(db, 10, prefecture_code="620500", county_code=None)
    add_volunteers(db, 4, prefecture_code="620100")  # outside the audience
    add_volunteers(db, 3, prefecture_code="620500", county_code=None, followed=False)
    notice_id = queue_notice(app, audience=notices.Audience(region="620500"))
    inserts = _inserts(db.engine)
    with db.Session.begin() as session:
        conditions = notices.recipient_conditions(
            session, Scope(), notices.Audience(region="620500")
        )
        batches = insert_recipients(session, notice_id, conditions, batch_size=3)
    # 10 recipients, 3 a batch: 3 + 3 + 3 + 1.
    assert batches == 4
    assert len(inserts) == 4
    with db.Session() as session:
        rows = session.execute(
            select(NoticeRecipient.openid, NoticeRecipient.status).where(
                NoticeRecipient.notice_id == notice_id
            )
        ).all()
    assert sorted(openid for openid, _ in rows) == sorted(wanted)
    assert {status for _, status in rows} == {R_QUEUED}


def test_an_exact_multiple_ends_with_an_empty_batch(app: Flask, db: Database) -> None:
    add_volunteers(db, 6, prefecture_code="620500", county_code=None)
    notice_id = queue_notice(app, audience=notices.Audience(region="620500"))
    with db.Session.begin() as session:
        conditions = notices.recipient_conditions(
            session, Scope(), notices.Audience(region="620500")
        )
        batches = insert_recipients(session, notice_id, conditions, batch_size=3)
    assert batches == 3  # 3 + 3, then a last statement that finds no one
    with db.Session() as session:
        count = session.scalar(select(func.count()).where(NoticeRecipient.notice_id == notice_id))
        volunteers = session.scalar(select(func.count(Volunteer.id)))
    assert count == 6 == volunteers


def test_prepare_builds_a_small_audience_in_one_batch(app: Flask, db: Database) -> None:
    wanted = add_volunteers(db, 5)
    notice_id = queue_notice(app)
    inserts = _inserts(db.engine)
    with db.Session.begin() as session:
        assert notices.prepare(session, notice_id)
    assert len(inserts) == 1
    with db.Session() as session:
        openids = session.scalars(
            select(NoticeRecipient.openid).where(NoticeRecipient.notice_id == notice_id)
        ).all()
    assert sorted(openids) == sorted(wanted)
