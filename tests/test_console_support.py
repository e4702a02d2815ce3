"""Shared set-up for the console, notice and activity tests: operators, logged-in clients,
volunteers and teams in bulk, templates. (Named test_console_* to live beside them; no tests.)"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from domain import team_names
from infra.db import Database
from models.activity import PUBLISHED, Activity
from models.base import utcnow
from models.follower import Follower
from models.notice import NoticeTemplate
from models.team import MEMBERSHIP_JOINED, Membership
from models.volunteer import ACTIVE, Volunteer
from sandbox.fake_wechat import SEED_TEMPLATES, TEMPLATE_ACTIVITY_REMINDER
from services import operators, teams

PASSWORD = "Secret-passw0rd"
_numbers = itertools.count(1)

# The fake's seeded 活动开始提醒 template: 活动名称/开始时间/活动地点/温馨提示.
REMINDER_FIELDS = [
    {"key": "thing1", "label": "活动名称"},
    {"key": "time2", "label": "开始时间"},
    {"key": "thing3", "label": "活动地点"},
    {"key": "thing4", "label": "温馨提示"},
]
REMINDER_DATA = {
    "thing1": "青少年科普进社区",
    "time2": "2026年12月5日 09:00",
    "thing3": "兰州市城关区科技馆",
    "thing4": "请提前15分钟到场签到",
}


def add_operator(
    db: Database, username: str, role: str = "province", *, openid: str | None = None
) -> int:
    role_name, region = operators.parse_role(role)
    with db.Session.begin() as session:
        operator = operators.create(
            session, username=username, password=PASSWORD, role=role_name, region_code=region
        )
        operator.openid = openid
        return operator.id


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.data[:300]
    found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data)
    assert found, "no CSRF token on " + path
    return found.group(1).decode()


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client, "/console/login")
    return client.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": password},
    )


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Submit a form found on `page` to `action`, with the page's CSRF token."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


@dataclass
class People:
    """Volunteers inserted in bulk (the registration flow has its own tests)."""

    openids: list[str]


def add_volunteers(
    db: Database,
    count: int,
    *,
    prefecture_code: str = "620100",
    county_code: str | None = "620102",
    skills: Iterable[str] = ("科学普及",),
    service_times: Iterable[str] = ("周末",),
    education: str = "本科",
    name: str = "志愿者",
    phone: str = "13812345678",
    followed: bool = True,
) -> list[str]:
    """`count` active volunteers (followers of the account unless `followed` is False);
    returns their openids."""
    now = utcnow()
    rows = []
    for _ in range(count):
        n = next(_numbers)
        rows.append(
            {
                "volunteer_no": f"KT{uuid.uuid4().int % 10**10:010d}",
                "openid": f"oVol{uuid.uuid4().hex[:24]}",
                "status": ACTIVE,
                "name": f"{name}{n}",
                "id_number_masked": "6201**********123X",
                "phone": phone,
                "education": education,
                "prefecture_code": prefecture_code,
                "county_code": county_code,
                "skills": list(skills),
                "service_times": list(service_times),
                "created_at": now,
                "updated_at": now,
            }
        )
    followers = [
        {"openid": row["openid"], "subscribed": True, "first_seen_at": now, "last_seen_at": now}
        for row in rows
    ]
    with db.Session.begin() as session:
        for start in range(0, len(rows), 1000):
            session.execute(insert(Volunteer), rows[start : start + 1000])
            if followed:
                session.execute(insert(Follower), followers[start : start + 1000])
    return [row["openid"] for row in rows]


def add_team(
    db: Database,
    name: str,
    *,
    kind: str = team_names.SOCIETY,
    prefecture_code: str | None = "620000",
    county_code: str | None = None,
    approved: bool = True,
    registrant: str = "oRegistrant0000000000000001",
) -> int:
    """A team registered (and approved) through the team services."""
    with db.Session.begin() as session:
        teams.seed_root(session)
        team = teams.register(
            session,
            openid=registrant,
            form=teams.TeamForm(
                kind=kind,
                name=name,
                prefecture_code=prefecture_code,
                county_code=county_code,
                host_org="测试单位",
            ),
        )
        if approved:
            teams.approve(session, team.id)
        return team.id


def join_team(db: Database, team_id: int, openids: Iterable[str]) -> None:
    with db.Session.begin() as session:
        ids = session.scalars(select(Volunteer.id).where(Volunteer.openid.in_(list(openids))))
        for volunteer_id in ids:
            session.add(
                Membership(team_id=team_id, volunteer_id=volunteer_id, status=MEMBERSHIP_JOINED)
            )


def add_template(
    db: Database,
    template_id: str = TEMPLATE_ACTIVITY_REMINDER,
    fields: list[dict[str, str]] | None = None,
) -> int:
    with db.Session.begin() as session:
        existing = session.scalar(
            select(NoticeTemplate.id).where(NoticeTemplate.template_id == template_id)
        )
        if existing is not None:
            return existing
        template = NoticeTemplate(
            template_id=template_id,
            title="活动开始提醒",
            fields=fields or REMINDER_FIELDS,
            active=True,
            verified=template_id in {t["template_id"] for t in SEED_TEMPLATES},
        )
        session.add(template)
        session.flush()
        return template.id


def add_activity(
    db: Database,
    team_id: int,
    *,
    title: str = "青少年科普进社区",
    prefecture_code: str | None = "620100",
    county_code: str | None = "620102",
    starts_in: timedelta = timedelta(days=7),
    status: str = PUBLISHED,
) -> int:
    start = (utcnow() + starts_in).replace(second=0, microsecond=0)
    with db.Session.begin() as session:
        activity = Activity(
            title=title,
            type="科学普及",
            team_id=team_id,
            prefecture_code=prefecture_code,
            county_code=county_code,
            place="兰州市城关区科技馆",
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            description="面向社区青少年的科普活动。",
            contact="李老师 0931-1234567",
            status=status,
        )
        session.add(activity)
        session.flush()
        return activity.id


@pytest.fixture
def province_client(app: Flask, db: Database) -> Iterator[FlaskClient]:
    add_operator(db, "sheng")
    client = app.test_client()
    assert login(client, "sheng").status_code == 302
    yield client


def when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


@pytest.fixture
def notice_queue(app: Flask) -> Iterator[Any]:
    """The app's notice queue, emptied afterwards (RQ keys carry RQ's own rq: prefix)."""
    queue = app.extensions["notice_queue"]
    yield queue
    rq_queue = getattr(queue, "queue", None)
    if rq_queue is not None:
        rq_queue.empty()


def compose_data(
    template_pk: int, data: dict[str, str] | None = None, **audience: Any
) -> dict[str, Any]:
    """The composer's form fields: template values as data-<key>, then the audience."""
    fields: dict[str, Any] = {"template": str(template_pk)}
    for key, value in (data or REMINDER_DATA).items():
        fields[f"data-{key}"] = value
    fields.update(audience)
    return fields


def compose(
    client: FlaskClient, fields: dict[str, Any], action: str = "preview", **extra: Any
) -> Any:
    token = csrf_token(client, f"/console/notices/new?template={fields['template']}")
    return client.post(
        "/console/notices/new", data={"csrf_token": token, "action": action, **fields, **extra}
    )


def recipient_count(page: bytes) -> int | None:
    found = re.search(r"接收人数：<strong>(\d+)</strong>", page.decode())
    return int(found.group(1)) if found else None


def queue_notice(
    app: Flask,
    *,
    audience: Any = None,
    data: dict[str, str] | None = None,
    template_pk: int | None = None,
) -> int:
    """A notice created the way the console creates it (queued, not yet enqueued)."""
    from services import notices
    from services.operators import Scope

    db = app.extensions["services"].db
    template_pk = template_pk or add_template(db)
    with db.Session.begin() as session:
        draft = notices.check_draft(
            session,
            Scope(),
            template_pk=template_pk,
            data=data or REMINDER_DATA,
            url="https://kjzy.example.cn/a/1",
            audience=audience or notices.Audience(),
        )
        return notices.create_notice(session, Scope(), draft, None, None, actor_name="test").id


def sender_services(app: Flask, **settings: Any) -> Any:
    """The app's services with notice settings changed (rate, lease, retries ...)."""
    import dataclasses

    services = app.extensions["services"]
    return dataclasses.replace(services, settings=services.settings.with_overrides(**settings))
