"""The notice audience's bookkeeping (models.audience) stays true through every path that
writes volunteers or followers: the 「receives notices」 flag, the service-time rows and the
counters equal what the volunteers and followers tables say after a first message, a
registration, unfollowing and following again, a send answered 43004 / 43101, 修改信息 of the
service times and the region, 注销, an operator's import and its claim in chat; and the counts
the composer shows equal the recipients actually built and the old definition (a probe of the
followers table and the JSON columns)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update

from domain.idcard import compute_check_digit
from infra.db import Database
from models.audience import AudienceCount, VolunteerTime
from models.follower import Follower
from models.notice import NoticeRecipient
from models.volunteer import ACTIVE, Volunteer
from sandbox.fake_wechat import FakeWeChatState
from services import notices
from services.notices.recipients import insert_recipients
from services.operators import OperatorError, Scope
from tests.test_console_support import (
    add_volunteers,
    notice_queue,  # noqa: F401  (fixture)
    province_client,  # noqa: F401  (fixture)
    queue_notice,
)
from tests.test_notices_send import send
from tests.test_reports_import import ADULT, confirm, row, upload, workbook_bytes
from tests.test_volunteer_skills import by_name, edit
from tests.volunteer_steps import answer_until, register
from tests.wechat_user import WeChatUser

Key = tuple[str, str, str, str]


def _receives(volunteer: Volunteer, followers: dict[str, Follower]) -> bool:
    """The old definition: an openid whose follower row is subscribed and not refusing."""
    follower = followers.get(volunteer.openid) if volunteer.openid else None
    return follower is not None and follower.subscribed and not follower.refuses_notices


def in_sync(db: Database) -> dict[int, bool]:
    """Assert the flag, the time rows and the counters against the volunteers and followers
    tables; returns each volunteer's flag."""
    with db.Session() as session:
        followers = {f.openid: f for f in session.scalars(select(Follower))}
        volunteers = session.scalars(select(Volunteer)).all()
        flags = {v.id: v.receives_notices for v in volunteers}
        assert flags == {v.id: _receives(v, followers) for v in volunteers}
        times = set(session.execute(select(VolunteerTime.volunteer_id, VolunteerTime.service_time)))
        assert times == {(v.id, t) for v in volunteers for t in v.service_times or ()}
        expected: Counter[Key] = Counter()
        for v in volunteers:
            if v.status != ACTIVE or not flags[v.id]:
                continue
            region = (v.prefecture_code or "", v.county_code or "")
            expected[("all", "", *region)] += 1
            expected.update(("skill", s, *region) for s in set(v.skills or ()))
            expected.update(("time", t, *region) for t in set(v.service_times or ()))
        counts = {
            (c.kind, c.value, c.prefecture_code, c.county_code): c.volunteers
            for c in session.scalars(select(AudienceCount))
            if c.volunteers
        }
        assert counts == dict(expected)
    return flags


def flag(db: Database, name: str) -> bool:
    return in_sync(db)[by_name(db, name)]


def total(db: Database, audience: notices.Audience, scope: Scope | None = None) -> int:
    with db.Session() as session:
        return notices.count_recipients(session, scope or Scope(), audience)


def test_first_message_registration_unfollow_follow_edits_and_deregistration(
    db: Database, make_user: Any
) -> None:
    user: WeChatUser = make_user()
    assert "注册成功" in register(user, name="张三")  # the first message wrote the follower row
    assert flag(db, "张三") is True
    everyone, weekend = notices.Audience(), notices.Audience(service_times=("周末",))
    assert total(db, everyone) == total(db, weekend) == 1

    user.unsubscribe()
    assert flag(db, "张三") is False
    assert total(db, everyone) == 0
    user.subscribe()
    assert flag(db, "张三") is True
    assert total(db, everyone) == 1

    # 修改信息: other service times, then another region.
    edit(user, "可服务时间", "1 4")
    in_sync(db)
    assert total(db, weekend) == 0
    assert total(db, notices.Audience(service_times=("工作日白天",))) == 1
    edit(user, "所在地区", "酒泉市", "敦煌市")
    in_sync(db)
    assert total(db, notices.Audience(region="620100")) == 0
    assert total(db, notices.Audience(region="620982")) == 1

    # 注销: no openid any more, no service times; nobody left to count.
    zhang = by_name(db, "张三")
    user.say("注销")
    assert "个人信息已删除" in user.say("确认注销")
    assert in_sync(db)[zhang] is False
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(VolunteerTime)) == 0
    assert total(db, everyone) == total(db, weekend) == 0


def test_registering_while_refusing_notices_or_without_a_follower_row(
    db: Database, make_user: Any
) -> None:
    """A new volunteer's flag is read from the follower row before the INSERT (not corrected
    after it): a refusing follower, or one whose row is missing, is inserted not receiving."""
    refusing: WeChatUser = make_user()
    assert "请核对" in answer_until(refusing)  # the first message wrote the follower row
    with db.Session.begin() as session:
        session.execute(
            update(Follower).where(Follower.openid == refusing.openid).values(refuses_notices=True)
        )
    assert "注册成功" in refusing.say("确认")
    assert flag(db, "张三") is False
    assert total(db, notices.Audience()) == 0

    rowless: WeChatUser = make_user()
    other_id = "62010219800101123" + compute_check_digit("62010219800101123")
    answer_until(rowless, name="李四", id_number=other_id)
    with db.Session.begin() as session:
        session.execute(delete(Follower).where(Follower.openid == rowless.openid))
    assert "注册成功" in rowless.say("确认")
    assert flag(db, "李四") is False

    # Refusals withdrawn: the volunteer is counted from then on.
    with db.Session.begin() as session:
        session.execute(
            update(Follower).where(Follower.openid == refusing.openid).values(refuses_notices=False)
        )
    assert flag(db, "张三") is True
    assert total(db, notices.Audience()) == 1


def test_a_volunteer_and_its_follower_row_added_in_one_flush(db: Database) -> None:
    """The new volunteer's flag cannot be read from a follower row inserted by the same flush:
    it is re-synced after the flush instead (and counted once)."""
    with db.Session.begin() as session:
        session.add(Follower(openid="o" + "f" * 27))
        session.add(Follower(openid="o" + "g" * 27, refuses_notices=True))
        for openid, name in (("o" + "f" * 27, "同刷"), ("o" + "g" * 27, "拒收")):
            session.add(
                Volunteer(
                    volunteer_no=f"KJ{len(name)}{ord(name[0])}",
                    openid=openid,
                    status=ACTIVE,
                    name=name,
                    prefecture_code="620100",
                    county_code="620102",
                    skills=["科学普及"],
                    service_times=["周末"],
                )
            )
    assert flag(db, "同刷") is True
    assert flag(db, "拒收") is False
    assert total(db, notices.Audience(service_times=("周末",))) == 1


def test_a_first_message_from_a_volunteer_without_a_follower_row(
    db: Database, make_user: Any
) -> None:
    # Imported in bulk with an openid but no follower row (say, followed before this service
    # kept the table): not reachable until their first message writes the row.
    (openid,) = add_volunteers(db, 1, followed=False)
    assert in_sync(db) == {by_openid(db, openid): False}
    user: WeChatUser = make_user(openid)
    user.say("帮助")
    assert in_sync(db) == {by_openid(db, openid): True}
    assert total(db, notices.Audience(skills=("科学普及",))) == 1


def by_openid(db: Database, openid: str) -> int:
    with db.Session() as session:
        found = session.scalar(select(Volunteer.id).where(Volunteer.openid == openid))
    assert found is not None
    return found


def test_refusing_and_unfollowed_answers_to_a_send(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    gone, refusing, fine = add_volunteers(db, 3)  # bulk INSERTs of volunteers and followers
    assert sum(in_sync(db).values()) == 3
    fake_wechat.mark_unsubscribed(gone)
    fake_wechat.mark_refusing(refusing)
    assert send(app, queue_notice(app)) == "done"
    flags = in_sync(db)
    with db.Session() as session:
        by_openid = {v.openid: flags[v.id] for v in session.scalars(select(Volunteer))}
    assert by_openid == {gone: False, refusing: False, fine: True}
    assert total(db, notices.Audience()) == 1


def test_import_then_claim_in_chat(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: Any,
) -> None:
    page = upload(province_client, workbook_bytes([row("王一", ADULT, skills="科学普及")]))
    confirm(province_client, page)
    assert flag(db, "王一") is False  # no openid yet
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(VolunteerTime)) > 0
    claimer: WeChatUser = make_user()
    assert "注册成功" in register(claimer, name="王一", id_number=ADULT)
    assert flag(db, "王一") is True
    assert total(db, notices.Audience(skills=("科学普及",))) == 1


def test_bulk_statements_and_a_follower_row_deleted(db: Database) -> None:
    first, second, third = add_volunteers(db, 3, service_times=("周末", "节假日"))
    add_volunteers(db, 2, followed=False)
    in_sync(db)
    with db.Session.begin() as session:
        session.execute(update(Volunteer).where(Volunteer.openid == first).values(status="x"))
        session.execute(
            update(Volunteer)
            .where(Volunteer.openid == second)
            .values(prefecture_code="620500", county_code="620502", service_times=["周末"])
        )
        session.execute(delete(Follower).where(Follower.openid == third))
    in_sync(db)
    assert total(db, notices.Audience(region="620500")) == 1
    assert total(db, notices.Audience(service_times=("节假日",))) == 0
    with db.Session.begin() as session:
        session.execute(delete(Volunteer).where(Volunteer.openid == second))
    in_sync(db)
    assert total(db, notices.Audience()) == 0


AUDIENCES = [
    notices.Audience(),
    notices.Audience(region="620100"),
    notices.Audience(region="620102"),
    notices.Audience(region="620500"),
    notices.Audience(skills=("科学普及",)),
    notices.Audience(skills=("科学普及", "信息技术")),
    notices.Audience(region="620102", skills=("信息技术",)),
    notices.Audience(service_times=("周末",)),
    notices.Audience(service_times=("周末", "节假日")),
    notices.Audience(region="620500", service_times=("节假日",)),
    notices.Audience(skills=("信息技术",), service_times=("周末",)),
]


def _old_count(db: Database, scope: Scope, audience: notices.Audience) -> int:
    region = scope.narrow(audience.region)
    with db.Session() as session:
        followers = {f.openid: f for f in session.scalars(select(Follower))}
        return sum(
            1
            for v in session.scalars(select(Volunteer))
            if v.status == ACTIVE
            and _receives(v, followers)
            and region.allows(v.prefecture_code, v.county_code)
            and (not audience.skills or set(audience.skills) & set(v.skills or ()))
            and (
                not audience.service_times
                or set(audience.service_times) & set(v.service_times or ())
            )
        )


def test_counts_equal_the_recipients_built_and_the_old_definition(app: Flask, db: Database) -> None:
    add_volunteers(db, 4, skills=("科学普及",), service_times=("周末",))
    add_volunteers(db, 3, county_code="620103", skills=("信息技术", "科学普及"))
    add_volunteers(
        db, 5, prefecture_code="620500", county_code="620502", service_times=("节假日", "周末")
    )
    add_volunteers(db, 2, prefecture_code="620500", county_code=None, skills=("信息技术",))
    add_volunteers(db, 3, followed=False)
    unfollowed, refusing, gone = add_volunteers(db, 3, service_times=("周末", "节假日"))
    with db.Session.begin() as session:
        session.execute(
            update(Follower).where(Follower.openid == unfollowed).values(subscribed=False)
        )
        session.execute(
            update(Follower).where(Follower.openid == refusing).values(refuses_notices=True)
        )
        session.execute(
            update(Volunteer).where(Volunteer.openid == gone).values(status="deregistered")
        )
    in_sync(db)
    scopes = [Scope(), Scope.for_region("620100"), Scope.for_region("620102")]
    checked = 0
    for scope in scopes:
        for audience in AUDIENCES:
            try:
                scope.narrow(audience.region)
            except OperatorError:
                continue  # outside the operator's region
            notice_id = queue_notice(app, audience=audience)
            with db.Session.begin() as session:
                counted = notices.count_recipients(session, scope, audience)
                conditions = notices.recipient_conditions(session, scope, audience)
                insert_recipients(session, notice_id, conditions, batch_size=4)
            with db.Session() as session:
                built = session.scalar(
                    select(func.count()).where(NoticeRecipient.notice_id == notice_id)
                )
            assert counted == built == _old_count(db, scope, audience), (scope, audience)
            checked += 1
    assert checked >= 20
