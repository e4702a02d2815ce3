"""Activities in the console: create, validate, edit, publish, region scoping, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from domain import team_names
from domain.clock import beijing_now
from infra.db import Database
from models.activity import Activity
from models.operator import AuditEntry
from models.team import Team
from tests.test_console_support import (
    add_activity,
    add_operator,
    add_team,
    add_volunteers,
    csrf_token,
    login,
    province_client,  # noqa: F401  (fixture)
)


def form(team_id: int, **changes: Any) -> dict[str, Any]:
    start = (beijing_now() + timedelta(days=10)).replace(hour=9, minute=0)
    values = {
        "title": "全国科普日·科学家进校园",
        "type": "科学普及",
        "key_date": "全国科普日",
        "team_id": str(team_id),
        "region": "620102",
        "place": "兰州市第一中学报告厅",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "capacity": "30",
        "signup_deadline": (start - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "description": "邀请科研人员为中学生讲解前沿科技。",
        "contact": "王老师 0931-8888888",
    }
    values.update(changes)
    return values


def create(client: FlaskClient, values: dict[str, Any]) -> Any:
    token = csrf_token(client, "/console/activities/new")
    return client.post("/console/activities/new", data={"csrf_token": token, **values})


def only_activity(db: Database) -> Activity:
    with db.Session() as session:
        found = session.scalars(select(Activity)).all()
        assert len(found) == 1
        return found[0]


def test_create_edit_and_publish(province_client: FlaskClient, db: Database) -> None:  # noqa: F811
    team_id = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    answer = create(province_client, form(team_id))
    assert answer.status_code == 302
    activity = only_activity(db)
    assert activity.status == "draft"
    assert activity.title == "全国科普日·科学家进校园"
    assert activity.team_id == team_id
    assert (activity.prefecture_code, activity.county_code) == ("620100", "620102")
    assert activity.capacity == 30 and activity.key_date == "全国科普日"

    page = province_client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "草稿" in page and "发布" in page and "兰州市城关区" in page

    edit = f"/console/activities/{activity.id}/edit"
    token = csrf_token(province_client, edit)
    assert (
        province_client.post(
            edit, data={"csrf_token": token, **form(team_id, place="兰州科技馆", capacity="")}
        ).status_code
        == 302
    )
    activity = only_activity(db)
    assert activity.place == "兰州科技馆" and activity.capacity is None

    publish = f"/console/activities/{activity.id}/status/recruiting"
    token = csrf_token(province_client, f"/console/activities/{activity.id}")
    assert province_client.post(publish, data={"csrf_token": token}).status_code == 302
    assert only_activity(db).status == "recruiting"
    # finished is final: no way back to published
    finish = f"/console/activities/{activity.id}/status/finished"
    province_client.post(finish, data={"csrf_token": token})
    again = province_client.post(publish, data={"csrf_token": token}, follow_redirects=True)
    assert "不能改为" in again.get_data(as_text=True)
    assert only_activity(db).status == "finished"

    with db.Session() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == [
        "login",
        "activity_create",
        "activity_update",
        "activity_status",
        "activity_status",
    ]


def test_bad_input_gets_a_hint_and_keeps_the_form(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    team_id = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    values = form(team_id)
    backwards = create(province_client, {**values, "ends_at": values["starts_at"]})
    assert backwards.status_code == 200
    page = backwards.get_data(as_text=True)
    assert "结束时间应晚于开始时间" in page
    assert "兰州市第一中学报告厅" in page  # nothing typed is lost

    late = create(province_client, {**values, "signup_deadline": values["ends_at"]})
    assert "报名截止时间不能晚于活动开始时间" in late.get_data(as_text=True)

    pending = add_team(db, "甘肃省天文学会科技志愿服务队", approved=False)
    unapproved = create(province_client, form(pending))
    assert "已审核通过" in unapproved.get_data(as_text=True)

    empty = create(province_client, {**values, "title": ""})
    assert "必填" in empty.get_data(as_text=True)
    with db.Session() as session:
        assert session.scalar(select(Activity.id)) is None


def test_region_operator_sees_and_edits_only_their_region(app: Flask, db: Database) -> None:
    team_id = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    lanzhou = add_activity(db, team_id, title="兰州的活动", prefecture_code="620100")
    tianshui = add_activity(
        db, team_id, title="天水的活动", prefecture_code="620500", county_code="620502"
    )
    add_operator(db, "lanzhou", "region:620100")
    client = app.test_client()
    assert login(client, "lanzhou").status_code == 302

    listing = client.get("/console/activities").get_data(as_text=True)
    assert "兰州的活动" in listing and "天水的活动" not in listing
    assert client.get(f"/console/activities/{lanzhou}").status_code == 200
    assert client.get(f"/console/activities/{tianshui}").status_code == 404
    token = csrf_token(client, f"/console/activities/{lanzhou}")
    refused = client.post(
        f"/console/activities/{tianshui}/status/cancelled", data={"csrf_token": token}
    )
    assert refused.status_code == 404

    outside = create(client, form(team_id, region="620502"))
    assert "只能选择本辖区内的地区" in outside.get_data(as_text=True)
    inside = create(client, form(team_id, region=""))  # the whole prefecture
    assert inside.status_code == 302
    with db.Session() as session:
        created = session.scalar(
            select(Activity).where(Activity.title == "全国科普日·科学家进校园")
        )
        assert created is not None
        assert (created.prefecture_code, created.county_code) == ("620100", None)


def test_region_operator_picks_province_teams_and_their_own(app: Flask, db: Database) -> None:
    add_team(db, "甘肃省科普作家协会科技志愿服务队")
    add_team(db, "天水市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620500")
    add_team(db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100")
    add_operator(db, "lanzhou", "region:620100")
    client = app.test_client()
    login(client, "lanzhou")
    page = client.get("/console/activities/new").get_data(as_text=True)
    assert "甘肃省科普作家协会科技志愿服务队" in page
    assert "兰州市科技志愿服务队" in page
    assert "天水市科技志愿服务队" not in page
    with db.Session() as session:
        assert session.scalar(select(Team.id).where(Team.name == "天水市科技志愿服务队"))


def test_new_fields_and_the_kexie_as_organiser(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: Any,
) -> None:
    team_id = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    new_page = province_client.get("/console/activities/new").get_data(as_text=True)
    assert "甘肃省科协（本级科协）" in new_page and "封面图片地址" in new_page
    values = form(
        team_id,
        service_field="医疗卫生",
        latitude="36.061089",
        longitude="103.834304",
        required_skills=["医疗卫生", "科学普及"],
        required_region="620100",
        cover="https://kjzy.example.cn/covers/1.jpg",
    )
    values["team_id"] = "kexie"
    assert create(province_client, values).status_code == 302
    activity = only_activity(db)
    assert activity.team_id is None and activity.organiser_region_code == "620000"
    assert activity.service_field == "医疗卫生"
    assert str(activity.latitude) == "36.061089" and str(activity.longitude) == "103.834304"
    assert activity.required_skills == ["医疗卫生", "科学普及"]
    assert activity.required_region_code == "620100"
    assert activity.cover == "https://kjzy.example.cn/covers/1.jpg"
    page = province_client.get(f"/console/activities/{activity.id}").get_data(as_text=True)
    assert "甘肃省科协" in page and "还没有志愿者报名" in page
    edit = province_client.get(f"/console/activities/{activity.id}/edit").get_data(as_text=True)
    assert 'value="kexie" selected' in edit or 'selected value="kexie"' in edit

    bad = create(province_client, {**values, "cover": "http://insecure.example/1.jpg"})
    assert "https://" in bad.get_data(as_text=True)
    half = create(province_client, {**values, "latitude": "36.06", "longitude": ""})
    assert "同时填写经度和纬度" in half.get_data(as_text=True)

    token = csrf_token(province_client, f"/console/activities/{activity.id}")
    province_client.post(
        f"/console/activities/{activity.id}/status/recruiting", data={"csrf_token": token}
    )
    (openid,) = add_volunteers(db, 1, skills=("医疗卫生",), name="王医生")
    assert "报名成功" in make_user(openid).say(f"报名{activity.id}")
    page = province_client.get(f"/console/activities/{activity.id}").get_data(as_text=True)
    assert "已报名 1 人 / 名额 30" in page and "王医生" in page and "138****5678" in page
    listing = province_client.get("/console/activities").get_data(as_text=True)
    assert "甘肃省科协" in listing
