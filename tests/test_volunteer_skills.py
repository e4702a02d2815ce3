"""volunteer_skills mirrors each volunteer's skills (with region and matchability) through every
path that writes them: an operator's import, registration in chat claiming the imported
record, a plain registration, 修改信息 of skills and of the region, and 注销."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from domain.choices import SKILLS
from infra.db import Database
from models.volunteer import Volunteer, VolunteerSkill, matchable
from tests.test_console_support import province_client  # noqa: F401
from tests.test_reports_import import ADULT, confirm, id_number, row, upload, workbook_bytes
from tests.volunteer_steps import register
from tests.wechat_user import WeChatUser

Mirror = set[tuple[int, str, str | None, str | None, bool]]


def mirror(db: Database) -> Mirror:
    with db.Session() as session:
        rows = session.scalars(select(VolunteerSkill)).all()
        return {
            (r.volunteer_id, r.skill, r.prefecture_code, r.county_code, r.matchable) for r in rows
        }


def expected(db: Database) -> Mirror:
    """What the rows must be, from the volunteers' own columns."""
    with db.Session() as session:
        return {
            (v.id, skill, v.prefecture_code, v.county_code, matchable(v.status, v.openid))
            for v in session.scalars(select(Volunteer)).all()
            for skill in v.skills or ()
        }


def in_sync(db: Database) -> Mirror:
    found = mirror(db)
    assert found == expected(db)
    return found


def by_name(db: Database, name: str) -> int:
    with db.Session() as session:
        volunteer_id = session.scalar(select(Volunteer.id).where(Volunteer.name == name))
    assert volunteer_id is not None
    return volunteer_id


def edit(user: WeChatUser, field: str, *answers: str) -> None:
    user.say("修改信息")
    for answer in (field, *answers):
        reply = user.say(answer)
    assert "请核对修改内容" in reply, reply
    assert "修改成功" in user.say("确认")


def test_rows_follow_import_claim_registration_edits_and_deregistration(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: Any,
) -> None:
    # Import: two volunteers without an openid (not matchable until they claim the record).
    other = id_number("620502", "19851231", 22)
    data = workbook_bytes(
        [
            row("王一", ADULT, skills="科学普及、农业技术"),
            row("李二", other, prefecture="天水", county="秦州", skills="信息技术"),
        ]
    )
    page = upload(province_client, data)
    confirm(province_client, page)
    wang, li = by_name(db, "王一"), by_name(db, "李二")
    assert in_sync(db) == {
        (wang, "科学普及", "620100", "620102", False),
        (wang, "农业技术", "620100", "620102", False),
        (li, "信息技术", "620500", "620502", False),
    }

    # 王一 registers in chat with the same ID number: the record becomes theirs (matchable),
    # with the skills just answered (1 and 3).
    claimer: WeChatUser = make_user()
    assert "注册成功" in register(claimer, name="王一", id_number=ADULT)
    assert by_name(db, "王一") == wang
    assert in_sync(db) - {r for r in mirror(db) if r[0] == li} == {
        (wang, SKILLS[0], "620100", "620102", True),
        (wang, SKILLS[2], "620100", "620102", True),
    }

    # A plain registration.
    newcomer: WeChatUser = make_user()
    assert "注册成功" in register(newcomer, name="张三")
    zhang = by_name(db, "张三")
    assert {r for r in in_sync(db) if r[0] == zhang} == {
        (zhang, SKILLS[0], "620100", "620102", True),
        (zhang, SKILLS[2], "620100", "620102", True),
    }

    # 修改信息: other skills, then another region (the rows move with the volunteer).
    edit(newcomer, "专业领域", "4 6")
    assert {r[1] for r in in_sync(db) if r[0] == zhang} == {SKILLS[3], SKILLS[5]}
    edit(newcomer, "所在地区", "酒泉市", "敦煌市")
    assert {r for r in in_sync(db) if r[0] == zhang} == {
        (zhang, SKILLS[3], "620900", "620982", True),
        (zhang, SKILLS[5], "620900", "620982", True),
    }

    # 注销: the skills are personal data, cleared with the rest; their rows go too.
    newcomer.say("注销")
    assert "个人信息已删除" in newcomer.say("确认注销")
    assert not {r for r in in_sync(db) if r[0] == zhang}
    assert {r[0] for r in mirror(db)} == {wang, li}
