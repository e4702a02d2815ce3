"""The pages bench/console_pages.py requests: every console list page with each filter and
sort it offers, page 1 and a deep page, the dashboard and report figures, notice audience
counts, and the team console of the biggest team. Values (a name, a number, the biggest team
and activity) are read from the seeded database."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import Engine, text

from domain.choices import EDUCATION_LEVELS, OCCUPATIONS, SERVICE_TIMES, SKILLS
from domain.pii import PiiCipher
from models.activity import STATUS_LABELS
from services.volunteers import ID_CONTEXT

LANZHOU, CHENGGUAN = "620100", "620102"


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    method: str = "GET"
    data: dict[str, str] = field(default_factory=dict)
    form_page: str | None = None  # where a POST's CSRF token comes from


def _get(label: str, path: str, **args: object) -> Page:
    query = urlencode({k: v for k, v in args.items() if v not in (None, "")})
    return Page(label, f"{path}?{query}" if query else path)


def _one(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


@functools.cache
def facts(engine: Engine, region: str | None) -> dict[str, object]:
    where = "AND prefecture_code = :region" if region else ""
    params = {"region": region} if region else {}
    big_team = _one(
        engine,
        f"SELECT m.team_id FROM team_memberships m JOIN teams t ON t.id = m.team_id "
        f"WHERE m.status = 'joined' AND t.status = 'approved' "
        f"{where.replace('prefecture_code', 't.prefecture_code')} "
        f"GROUP BY m.team_id ORDER BY COUNT(*) DESC LIMIT 1",
        **params,
    )
    activity = _one(
        engine,
        f"SELECT s.activity_id FROM signups s JOIN activities a ON a.id = s.activity_id "
        f"WHERE a.status = 'finished' {where.replace('prefecture_code', 'a.prefecture_code')} "
        f"GROUP BY s.activity_id ORDER BY COUNT(*) DESC LIMIT 1",
        **params,
    )
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT volunteer_no, name, phone, id_number_cipher FROM volunteers "
                f"WHERE status = 'active' AND openid IS NOT NULL {where} "
                f"ORDER BY id DESC LIMIT 1"
            ),
            params,
        ).one()
        notice = conn.execute(
            text("SELECT notice_id FROM notice_recipients ORDER BY id DESC LIMIT 1")
        ).scalar()
    return {
        "team": big_team,
        "activity": activity,
        "volunteer_no": row[0],
        "name": row[1],
        "phone": row[2],
        "cipher": row[3],
        "notice": notice,
    }


def pages_for(engine: Engine, who: str, pii_key: str) -> list[Page]:
    region = LANZHOU if who != "province" else None
    f = facts(engine, region)
    id_number = PiiCipher(pii_key).decrypt(str(f["cipher"]), context=ID_CONTEXT)
    v = "/console/volunteers"
    pages = [
        Page("dashboard", "/console/"),
        _get("reports", "/console/reports"),
        _get("reports region", "/console/reports", region=CHENGGUAN if region else LANZHOU),
        _get("reports 2025", "/console/reports", since="2025-01-01", until="2025-12-31"),
        _get("volunteers p1", v),
        _get("volunteers p2", v, page=2),
        _get("volunteers deep p1000", v, page=1000),
        _get("volunteers last page", v, page=10**6),
        _get("volunteers q=surname", v, q=str(f["name"])[:1]),
        _get("volunteers q=full name", v, q=f["name"]),
        _get("volunteers q=volunteer_no", v, q=f["volunteer_no"]),
        Page("volunteers q=phone (POST)", v, "POST", {"q": str(f["phone"])}, v),
        Page("volunteers q=ID number (POST)", v, "POST", {"q": id_number}, v),
        _get("volunteers region=prefecture", v, region=LANZHOU),
        _get("volunteers region=county", v, region=CHENGGUAN),
        _get("volunteers region=county deep", v, region=CHENGGUAN, page=200),
        _get("volunteers skill", v, skill=SKILLS[3]),
        _get("volunteers skill deep", v, skill=SKILLS[3], page=500),
        _get("volunteers education", v, education=EDUCATION_LEVELS[3]),
        _get("volunteers occupation", v, occupation=OCCUPATIONS[2]),
        _get("volunteers team", v, team_id=f["team"]),
        _get("volunteers team deep", v, team_id=f["team"], page=20),
        _get("volunteers since/until", v, since="2025-01-01", until="2025-06-30"),
        _get("volunteers since deep", v, since="2024-01-01", page=300),
        _get(
            "volunteers all filters",
            v,
            region=LANZHOU,
            skill=SKILLS[0],
            education=EDUCATION_LEVELS[2],
            since="2024-01-01",
        ),
        _get("teams", "/console/teams"),
        _get("activities", "/console/activities"),
        *(_get(f"activities status={s}", "/console/activities", status=s) for s in STATUS_LABELS),
        _get("activity (biggest)", f"/console/activities/{f['activity']}"),
        _get("activity attendance", f"/console/activities/{f['activity']}/attendance"),
        _get("needs", "/console/needs"),
        _get("notices", "/console/notices"),
        _get("notice form", "/console/notices/new"),
        _get("templates", "/console/templates"),
        _get("recognition", "/console/recognition"),
    ]
    if f["notice"]:
        pages += [
            _get("notice (biggest)", f"/console/notices/{f['notice']}"),
            _get("notice progress", f"/console/notices/{f['notice']}/progress"),
        ]
    form = "/console/notices/new?template=1"
    audiences: list[tuple[str, dict[str, str]]] = [
        ("all", {}),
        ("region county", {"region": CHENGGUAN}),
        ("team", {"team_id": str(f["team"])}),
        ("skill", {"skills": SKILLS[1]}),
        ("time", {"service_times": SERVICE_TIMES[2]}),
        ("activity signed up", {"audience_activity": str(f["activity"])}),
        (
            "activity checked in",
            {"audience_activity": str(f["activity"]), "activity_state": "checked_in"},
        ),
    ]
    for name, values in audiences:
        data = {"action": "preview", "data-thing1": "科普讲座", "data-time2": "2026年12月5日 09:00",
                "activity_state": "signed_up", **values}  # fmt: skip
        pages.append(Page(f"audience count {name}", form, "POST", data, form))
    if who == "province":
        pages += [
            _get("audit p1", "/console/audit"),
            _get("audit deep p500", "/console/audit", page=500),
            _get("audit action", "/console/audit", action="login"),
            _get("audit actor deep", "/console/audit", actor="bench_province", page=300),
        ]
    return pages


def team_pages(engine: Engine) -> tuple[str, list[Page]]:
    """The admin's openid and the team console pages of the biggest team."""
    f = facts(engine, None)
    team = f["team"]
    with engine.connect() as conn:
        openid = conn.execute(
            text("SELECT openid FROM team_admins WHERE team_id = :t LIMIT 1"), {"t": team}
        ).scalar()
        activity = conn.execute(
            text(
                "SELECT a.id FROM activities a JOIN signups s ON s.activity_id = a.id "
                "WHERE a.team_id = :t GROUP BY a.id ORDER BY COUNT(*) DESC LIMIT 1"
            ),
            {"t": team},
        ).scalar()
    t = f"/team/t/{team}"
    pages = [
        _get("team home", "/team/"),
        _get("team members p1", f"{t}/members"),
        _get("team members deep", f"{t}/members", page=500),
        _get("team members q", f"{t}/members", q=str(f["name"])[:1]),
        _get("team members skill", f"{t}/members", skill=SKILLS[0]),
        _get("team activities", f"{t}/activities"),
        _get("team notices (count)", f"{t}/notices"),
        _get("team reports", f"{t}/reports"),
        _get("team reports 2025", f"{t}/reports", since="2025-01-01", until="2025-12-31"),
        _get("team reports members list", f"{t}/reports/volunteers"),
        _get(
            "team reports members 本科 2025",
            f"{t}/reports/volunteers",
            education="本科",
            since="2025-01-01",
            until="2025-12-31",
        ),
        _get("team reports activities list", f"{t}/reports/activities"),
        _get("team reports hours list", f"{t}/reports/hours"),
        _get("team reports hours deep", f"{t}/reports/hours", page=200),
        _get("team subteams", f"{t}/subteams"),
    ]
    if activity:
        pages += [
            _get("team activity", f"/team/a/{activity}"),
            _get("team roster", f"/team/a/{activity}/roster"),
        ]
    return str(openid), pages
