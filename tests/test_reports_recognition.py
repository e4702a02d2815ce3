"""Recognition candidates of a year by the criteria (thresholds are settings), scope, the
shortlist with notes, the published 公示 page, the volunteer told in chat and shown it in
我的信息."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from config import Settings
from domain import team_names
from domain.recognition import Thresholds
from infra.db import Database
from models.activity import Activity
from models.operator import AuditEntry
from models.recognition import Recognition
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.volunteer import Volunteer
from sandbox.fake_wechat import FakeWeChatState
from services import recognition
from services.operators import Scope
from tests.test_console_pages import region_client
from tests.test_console_support import (
    add_team,
    add_volunteers,
    csrf_token,
    join_team,
    province_client,  # noqa: F401  (fixture)
)
from tests.wechat_user import WeChatUser


def activities(db: Database, team_id: int, count: int, *, year: int, county: str,
               title: str, place: str) -> list[int]:  # fmt: skip
    start = datetime(year, 3, 1, 1)
    rows = [
        {
            "title": title, "type": "科学普及", "team_id": team_id,
            "prefecture_code": county[:4] + "00", "county_code": county, "place": place,
            "starts_at": start + timedelta(days=n), "ends_at": start + timedelta(days=n, hours=3),
            "description": "社区科普", "contact": "李老师", "status": "finished",
            "created_at": start, "updated_at": start,
        }
        for n in range(count)
    ]  # fmt: skip
    with db.Session.begin() as session:
        session.execute(insert(Activity), rows)
        return list(
            session.scalars(
                select(Activity.id).where(Activity.team_id == team_id, Activity.title == title)
                .order_by(Activity.id)
            )
        )  # fmt: skip


def served(db: Database, openid: str, activity_ids: list[int], hours: str, year: int) -> None:
    with db.Session.begin() as session:
        volunteer_id = session.scalar(select(Volunteer.id).where(Volunteer.openid == openid))
        for n, activity_id in enumerate(activity_ids):
            session.add(
                ServiceRecord(
                    activity_id=activity_id, volunteer_id=volunteer_id, status=RECORD_CONFIRMED,
                    hours=Decimal(hours), activity_title="社区科普课堂",
                    service_date=date(year, 3, 1) + timedelta(days=n), place="科技馆",
                    content="科普", organiser="兰州市科技志愿服务队", recorder="队长",
                    recorded_at=datetime(year, 11, 1),
                )
            )  # fmt: skip


def year_of_service(db: Database) -> list[str]:
    """A 兰州 team with 20 members and 50 activities in 2026; one volunteer qualifies."""
    team = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    people = add_volunteers(db, 20, name="兰州队员")
    join_team(db, team, people)
    held = activities(db, team, 50, year=2026, county="620102", title="社区科普课堂",
                      place="兰州市城关区科技馆")  # fmt: skip
    earlier = activities(db, team, 5, year=2025, county="620102", title="往年活动",
                         place="兰州市城关区科技馆")  # fmt: skip
    served(db, people[0], held[:12], "2.0", 2026)  # 12 activities, 24 h: a candidate
    served(db, people[1], held[:10], "1.9", 2026)  # 10 activities, 19 h: too few hours
    served(db, people[1], earlier, "3.0", 2025)  # another year does not count
    served(db, people[2], held[:9], "3.0", 2026)  # 9 activities, 27 h: too few activities
    for openid in people[3:]:
        served(db, openid, held[20:22], "2.0", 2026)  # 17 x 4 h
    # The team: 20 volunteers, 50 activities, 24 + 19 + 27 + 68 = 138 h, 6.9 h each.
    tianshui = add_team(db, "天水市科技志愿服务队", kind=team_names.PREFECTURE,
                        prefecture_code="620500")  # fmt: skip
    activities(db, tianshui, 3, year=2026, county="620502", title="农技下乡", place="秦州区")
    return people


def test_candidates_follow_the_criteria_and_the_settings(app: Flask, db: Database) -> None:
    people = year_of_service(db)
    with db.Session() as session:
        found = recognition.candidates(session, 2026, Scope(), Thresholds())
        assert [c.figures for c in found["volunteer"]] == [{"activities": 12, "hours": 24.0}]
        assert found["volunteer"][0].name.startswith("兰州队员")
        (team,) = found["team"]
        assert team.name == "兰州市科技志愿服务队"
        assert team.figures == {"volunteers": 20, "activities": 50, "hours": 138.0,
                                "average": 6.9}  # fmt: skip
        (project,) = found["project"]
        assert project.name == "兰州市科技志愿服务队「社区科普课堂」"
        assert (
            project.figures["activities"] == 50 and project.figures["people"] == 65
        )  # 12 + 10 + 9 + 17 x 2
        # Service points come from communities' and villages' needs (test_recognition_points).
        assert found["point"] == []

        # Thresholds are settings: 19 hours is enough when the setting says so.
        lenient = Settings.from_env(
            {"RECOGNITION_VOLUNTEER_MIN_HOURS": "19", "RECOGNITION_TEAM_MIN_HOURS": "200"},
            load_dotenv=False,
        ).recognition
        assert lenient.volunteer_min_hours == 19 and lenient.team_min_hours == 200
        loose = recognition.candidates(session, 2026, Scope(), lenient)
        assert [c.figures["hours"] for c in loose["volunteer"]] == [24.0, 19.0]
        assert loose["team"] == []
        assert recognition.candidates(session, 2025, Scope(), Thresholds())["volunteer"] == []
        # A 天水 operator sees none of 兰州's candidates.
        assert all(v == [] for v in recognition.candidates(
            session, 2026, Scope("620500"), Thresholds()).values())  # fmt: skip
    assert people


def test_shortlist_publish_tell_and_show(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
    make_user: Callable[..., WeChatUser],
) -> None:
    people = year_of_service(db)
    page = province_client.get("/console/recognition?year=2026").get_data(as_text=True)
    assert "队员20人，活动50场，服务时长138.0小时，人均6.9小时" in page
    assert "活动12场，服务时长24.0小时" in page

    def shortlist(client: FlaskClient, kind: str, subject: str, note: str = "") -> str:
        token = csrf_token(client, "/console/recognition?year=2026")
        return client.post(
            "/console/recognition/shortlist?year=2026",
            data={"csrf_token": token, "kind": kind, "subject": subject, "note": note},
            follow_redirects=True,
        ).get_data(as_text=True)

    with db.Session() as session:
        star = session.scalar(select(Volunteer).where(Volunteer.openid == people[0]))
        assert star is not None
        star_id, star_name = star.id, star.name
        assert session.scalar(select(Recognition.id)) is None  # nothing shortlisted yet
    lanzhou_team = recognition_subject(db, "team")

    # A 天水 operator cannot pick a 兰州 volunteer.
    tianshui = region_client(app, db, "620500")
    assert "不符合条件或不在您的管辖范围" in shortlist(tianshui, "volunteer", str(star_id))
    assert "没有符合条件的候选" in tianshui.get("/console/recognition?year=2026").get_data(
        as_text=True
    )

    done = shortlist(province_client, "volunteer", str(star_id), "长期坚持社区科普")
    assert f"已加入入选名单：{star_name}" in done
    assert "已加入入选名单" in shortlist(province_client, "team", lanzhou_team)
    assert "已入选" in province_client.get("/console/recognition?year=2026").get_data(as_text=True)
    assert "不符合条件" in shortlist(province_client, "volunteer", str(star_id + 1))
    assert province_client.get("/gongshi/2026").status_code == 404

    token = csrf_token(province_client, "/console/recognition?year=2026")
    assert tianshui.post(
        "/console/recognition/publish?year=2026", data={"csrf_token": token}
    ).status_code in (400, 403)
    published = province_client.post(
        "/console/recognition/publish?year=2026",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已发布2026年度公示（2项），已通知1位志愿者" in published

    public = province_client.get("/gongshi/2026").get_data(as_text=True)
    assert star_name in public and "长期坚持社区科普" in public
    assert "兰州市科技志愿服务队" in public and "优秀科技志愿服务队" in public
    (message,) = fake_wechat.messages(people[0])
    assert "2026年度优秀科技志愿者" in message["content"] and "/gongshi/2026" in message["content"]
    volunteer = make_user(people[0])
    assert "荣誉：2026年度优秀科技志愿者（公示）" in volunteer.say("我的信息")
    assert "荣誉" not in make_user(people[1]).say("我的信息")

    with db.Session() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions.count("recognition_shortlist") == 2 and "recognition_publish" in actions
        entry = session.scalar(select(Recognition).where(Recognition.volunteer_id == star_id))
        assert entry is not None and entry.notified_at is not None


def recognition_subject(db: Database, kind: str) -> str:
    with db.Session() as session:
        found = recognition.candidates(session, 2026, Scope(), Thresholds())
    return found[kind][0].subject
