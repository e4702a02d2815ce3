"""优秀科技志愿服务点 candidates on a fixed data set (the expected numbers are written here):
communities and villages that posted needs, by the activities held for them in the year, the
hours served there and their feedback (Need.satisfaction); thresholds are settings; scope."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from config import Settings
from domain import team_names
from domain.recognition import POINT, PROJECT, Thresholds
from infra.db import Database
from models.activity import CANCELLED, Activity
from models.need import DONE, MERGED
from models.recognition import Recognition
from services import recognition
from services.operators import Scope
from tests.test_console_support import (
    add_team,
    add_volunteers,
    csrf_token,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_reports_needs import need
from tests.test_reports_recognition import activities, served


def rated(db: Database, name: str, kind: str, county: str, linked: list[int],
          ratings: list[int | None], status: str = DONE) -> None:  # fmt: skip
    """One need of `name` per activity, done, with the requester's rating (None: no feedback)."""
    for activity_id, rating in zip(linked, ratings, strict=True):
        need(
            db, county=county, created="2026-02-01 02:00", status=status, kind=kind,
            requester=name, activity_id=activity_id, satisfaction=rating,
            feedback="讲得很好" if rating else None,
        )  # fmt: skip


def fixed_points(db: Database) -> None:
    lanzhou = add_team(db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE,
                       prefecture_code="620100")  # fmt: skip
    tianshui = add_team(db, "天水市科技志愿服务队", kind=team_names.PREFECTURE,
                        prefecture_code="620500")  # fmt: skip
    people = add_volunteers(db, 2, name="服务点队员")

    # 东岗街道社区 in 城关区: 6 activities held in 2026, 5 of them rated: a candidate.
    dg = activities(db, lanzhou, 6, year=2026, county="620102", title="东岗科普", place="东岗")
    rated(db, "东岗街道社区", "社区", "620102", dg, [5, 5, 4, 4, 5, None])
    rated(db, "东岗街道社区", "社区", "620102", dg[:1], [None])  # the same activity again
    served(db, people[0], dg[:4], "2.0", 2026)
    served(db, people[1], dg[4:], "1.5", 2026)  # 8 + 3 = 11 h
    # Not counted for it: a cancelled activity, one held in 2025, a merged duplicate need.
    (cancelled,) = activities(db, lanzhou, 1, year=2026, county="620102", title="东岗取消",
                              place="东岗")  # fmt: skip
    with db.Session.begin() as session:
        session.execute(update(Activity).where(Activity.id == cancelled).values(status=CANCELLED))
    served(db, people[0], [cancelled], "5.0", 2026)
    earlier = activities(db, lanzhou, 1, year=2025, county="620102", title="东岗往年", place="东岗")
    rated(db, "东岗街道社区", "社区", "620102", [cancelled, *earlier], [1, 1])
    extra = activities(db, lanzhou, 1, year=2026, county="620102", title="东岗重复", place="东岗")
    rated(db, "东岗街道社区", "社区", "620102", extra, [1], status=MERGED)

    # The same name in 七里河区 is another place: 6 activities, rated 3 each (too low).
    qlh = activities(db, lanzhou, 6, year=2026, county="620103", title="七里河科普", place="七里河")
    rated(db, "东岗街道社区", "社区", "620103", qlh, [3] * 6)
    # A village of 榆中县: 7 activities but only 2 ratings (too little feedback).
    village = activities(db, lanzhou, 7, year=2026, county="620123", title="下乡", place="村委会")
    rated(db, "和平村", "乡村", "620123", village, [5, 4, None, None, None, None, None])
    # A school is not a service point, however well rated.
    school = activities(db, lanzhou, 8, year=2026, county="620102", title="进校园", place="学校")
    rated(db, "城关区第一小学", "学校", "620102", school, [5] * 8)
    # A village of 秦州区 (天水): 6 activities, 3 ratings of 5.
    qz = activities(db, tianshui, 6, year=2026, county="620502", title="秦州农技", place="村部")
    rated(db, "皂郊村", "乡村", "620502", qz, [5, 5, 5, None, None, None])


def points(db: Database, scope: Scope, rules: Thresholds, year: int = 2026) -> list[tuple]:  # type: ignore[type-arg]
    with db.Session() as session:
        found = recognition.candidates(session, year, scope, rules)[POINT]
    return [(c.name, c.region, c.figures) for c in found]


def rules(**env: str) -> Thresholds:
    return Settings.from_env(env, load_dotenv=False).recognition


def test_service_points_by_activities_and_feedback(app: Flask, db: Database) -> None:
    fixed_points(db)
    dong_gang = ("东岗街道社区（社区）", "兰州市城关区",
                 {"activities": 6, "hours": 11.0, "feedbacks": 5, "satisfaction": 4.6})  # fmt: skip
    zao_jiao = ("皂郊村（乡村）", "天水市秦州区",
                {"activities": 6, "hours": 0.0, "feedbacks": 3, "satisfaction": 5.0})  # fmt: skip
    assert points(db, Scope(), Thresholds()) == [zao_jiao, dong_gang]

    # Thresholds are settings.
    assert rules(RECOGNITION_POINT_MIN_FEEDBACK="2").point_min_feedback == 2
    assert [p[0] for p in points(db, Scope(), rules(RECOGNITION_POINT_MIN_FEEDBACK="2"))] == [
        "和平村（乡村）", "皂郊村（乡村）", "东岗街道社区（社区）",
    ]  # fmt: skip
    lenient = points(db, Scope(), rules(RECOGNITION_POINT_MIN_SATISFACTION="3"))
    assert [(p[0], p[1]) for p in lenient] == [
        ("皂郊村（乡村）", "天水市秦州区"), ("东岗街道社区（社区）", "兰州市城关区"),
        ("东岗街道社区（社区）", "兰州市七里河区"),
    ]  # fmt: skip
    assert points(db, Scope(), rules(RECOGNITION_POINT_MIN_ACTIVITIES="7")) == []
    assert points(db, Scope(), Thresholds(), year=2025) == []

    # Projects (a team's recurring activity) show the feedback of the needs they served.
    with db.Session() as session:
        found = recognition.candidates(session, 2026, Scope(), Thresholds())[PROJECT]
        projects = {c.name: c.figures for c in found}
    assert projects["兰州市科技志愿服务队「东岗科普」"] == {
        "activities": 6, "people": 6, "hours": 11.0, "feedbacks": 5, "satisfaction": 4.6,
    }  # fmt: skip
    assert projects["兰州市科技志愿服务队「下乡」"]["feedbacks"] == 2
    assert projects["兰州市科技志愿服务队「下乡」"]["satisfaction"] == 4.5

    # Each operator sees the points of their region.
    assert points(db, Scope("620100"), Thresholds()) == [dong_gang]
    assert points(db, Scope("620500"), Thresholds()) == [zao_jiao]
    assert points(db, Scope("620100", "620103"), Thresholds()) == []


def test_a_service_point_is_shortlisted_from_the_recognition_page(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    fixed_points(db)
    page = province_client.get("/console/recognition?year=2026").get_data(as_text=True)
    section = page[page.index('id="candidates-point"') :]
    assert "优秀科技志愿服务点候选（2）" in section
    assert "活动6场，服务时长11.0小时，评价5条，平均满意度4.6分" in section
    assert "收到评价≥3条且平均满意度≥4分" in section
    answer = province_client.post(
        "/console/recognition/shortlist?year=2026",
        data={
            "csrf_token": csrf_token(province_client, "/console/recognition?year=2026"),
            "kind": POINT, "subject": "620102:东岗街道社区", "note": "社区满意度高",
        },
    )  # fmt: skip
    assert answer.status_code == 302
    with db.Session() as session:
        (entry,) = session.scalars(select(Recognition).where(Recognition.kind == POINT))
        assert entry.name == "东岗街道社区（社区）" and entry.region_code == "620102"
        assert entry.figures["satisfaction"] == 4.6 and entry.note == "社区满意度高"
