"""Suggestions for a need over 200,000 volunteers in MariaDB (issue 14: under 300 ms).

    .venv/bin/python bench/matching.py                    # 200,000 volunteers, about two minutes
    .venv/bin/python bench/matching.py --volunteers 20000 --runs 5

Creates its own database (`kjzy_bench_matching_*`, dropped at the end), runs the migrations,
and loads with LOAD DATA LOCAL INFILE (not ORM objects): volunteers spread over Gansu's 14 市州 and
86 县区 by population (a few 省外, a few with only a 市州), one to three skills and service times
each, the consent to show skills for about 30 %, some imported (no openid) and de-registered;
a few hundred teams with members, activities and service records with hours, and 结对.

Then, for several needs (fields, regions, dated and 长期), it times `services.needs_matching.
suggest` in a fresh session each run: cold (the first call for that need) and warm (median of
`--runs`), interleaved with the floor: as many volunteer rows as `suggest` considers (its 200
candidates) fetched by one bare indexed SELECT (the need's 市州, by id), in a fresh session too. It prints ms per need against the goal, the ratio to the floor (median of per-round
ratios), the load average, and EXPLAIN plus ANALYZE FORMAT=JSON times of every query
`suggest` issued.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from domain import regions  # noqa: E402
from domain.choices import SERVICE_TIMES  # noqa: E402
from models.volunteer import VolunteerSkill  # noqa: E402

GOAL_MS = 300.0
# Rough population (10,000s) of each 市州, for a realistic spread of volunteers.
POPULATION = {
    "620100": 440, "620200": 31, "620300": 44, "620400": 151, "620500": 298, "620600": 146,
    "620700": 113, "620800": 185, "620900": 105, "621000": 216, "621100": 252, "621200": 240,
    "622900": 211, "623000": 69,
}  # fmt: skip
# How common each skill is (科学普及 most, 其他 least).
SKILL_WEIGHTS = {
    "科学普及": 30, "农业技术": 14, "医疗卫生": 12, "信息技术": 12, "生态环保": 8,
    "应急安全": 9, "工程技术": 7, "教育培训": 14, "文化传播": 6, "其他": 2,
}  # fmt: skip
PREFECTURES = list(POPULATION)
CUMULATIVE = list(itertools.accumulate(POPULATION.values()))
COUNTIES = {p: [c.code for c in regions.counties(p)] for p in POPULATION}
NULL = "\\N"  # LOAD DATA's NULL (with the default escape character, backslash)


@dataclass(frozen=True)
class NeedCase:
    label: str
    prefecture: str
    county: str | None
    field: str
    starts_on: date | None
    ends_on: date | None


def need_cases(today: date) -> list[NeedCase]:
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 + 7)
    monday = saturday + timedelta(days=2)
    return [
        NeedCase("城关区 应急安全 周末", "620100", "620102", "应急安全", saturday, saturday),
        NeedCase("秦州区 农业技术 长期", "620500", "620502", "农业技术", None, None),
        NeedCase("合作市 医疗卫生 工作日", "623000", "623001", "医疗卫生", monday, monday),
        NeedCase("定西市(无县区) 信息技术 长期", "621100", None, "信息技术", None, None),
        NeedCase("嘉峪关市 其他 一周", "620200", None, "其他", monday, monday + timedelta(6)),
        NeedCase("城关区 科学普及 长期", "620100", "620102", "科学普及", None, None),
    ]


# -- data ------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return NULL
    return str(int(value)) if isinstance(value, bool) else str(value).replace("\\", "\\\\")


def tsv(path: Path, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write("\t".join(cell(v) for v in row) + "\n")
            count += 1
    return count


def js(values: list[str] | None) -> str | None:
    # As SQLAlchemy's JSON type stores it (non-ASCII as \\u escapes).
    return None if values is None else json.dumps(values)


def pick_place(rng: random.Random) -> tuple[str, str | None]:
    roll = rng.random()
    if roll < 0.03:
        return regions.OUTSIDE_GANSU, None
    prefecture = rng.choices(PREFECTURES, cum_weights=CUMULATIVE)[0]
    counties = COUNTIES[prefecture]
    if not counties or roll < 0.05:
        return prefecture, None
    # The seat (first county) has about three times the share of the others.
    return prefecture, rng.choices(counties, weights=[3] + [1] * (len(counties) - 1))[0]


VOLUNTEER_COLUMNS = (
    "id, volunteer_no, openid, status, name, id_number_masked, gender, birth_date, phone,"
    " education, prefecture_code, county_code, occupation, skills, service_times, skills_visible,"
    " consent_version, consented_at, imported_at, created_at, updated_at, deregistered_at"
)


def volunteer_rows(
    n: int, rng: random.Random, now: datetime, mirror: list[dict[str, Any]]
) -> Iterator[tuple[Any, ...]]:
    """The volunteers' rows; their VolunteerSkill rows are appended to `mirror`."""
    skills, weights = list(SKILL_WEIGHTS), list(SKILL_WEIGHTS.values())
    for vid in range(1, n + 1):
        roll = rng.random()
        created = now - timedelta(days=rng.randrange(1, 900), seconds=rng.randrange(86400))
        if roll < 0.01:  # de-registered: personal data cleared
            yield (vid, f"KJ{vid:010d}", None, "deregistered", *[None] * 10, None, 0,
                   "2026-11", created, None, created, now, now)  # fmt: skip
            continue
        prefecture, county = pick_place(rng)
        own = sorted(set(rng.choices(skills, weights=weights, k=rng.choice((1, 1, 2, 2, 3)))))
        times = sorted(set(rng.choices(SERVICE_TIMES, k=rng.choice((1, 2, 2, 3)))))
        imported = roll < 0.03
        visible = rng.random() < 0.30 and not imported
        mirror += VolunteerSkill.rows_for(
            [
                {
                    "id": vid,
                    "skills": own,
                    "prefecture_code": prefecture,
                    "county_code": county,
                    "status": "active",
                    "openid": None if imported else vid,
                    "skills_visible": visible,
                }
            ]
        )
        yield (
            vid, f"KJ{vid:010d}", None if imported else f"oBenchMatch{vid:017d}", "active",
            f"志愿者{vid}", "6201**********123X", rng.choice("男女"),
            date(1960, 1, 1) + timedelta(days=rng.randrange(16000)), "13812345678",
            rng.choice(("本科", "大专", "硕士研究生", "高中")), prefecture, county, "其他",
            js(own), js(times), int(visible), "2026-11",
            None if imported else created, created if imported else None, created, created, None,
        )  # fmt: skip


def generate(folder: Path, args: argparse.Namespace, now: datetime) -> dict[str, int]:
    rng = random.Random(args.seed)
    mirror: list[dict[str, Any]] = []
    volunteers = volunteer_rows(args.volunteers, rng, now, mirror)
    counts = {"volunteers": tsv(folder / "volunteers.tsv", volunteers)}
    counts["volunteer_skills"] = tsv(
        folder / "volunteer_skills.tsv",
        (tuple(r.values()) for r in mirror),
    )
    teams, members, activities, records, pairings = [], [], [], [], []
    for tid in range(1, args.teams + 1):
        prefecture, county = pick_place(rng) if tid % 4 else ("620000", None)
        if prefecture == regions.OUTSIDE_GANSU:
            prefecture = "620000"
        teams.append((tid, f"TD{tid:08d}", f"基准第{tid}科技志愿服务队", f"bench{tid}", "unit",
                      "队", prefecture, county, f"INV{tid:08d}", "approved", 0, 0, 1, now, now))  # fmt: skip
        for vid in rng.sample(range(1, args.volunteers + 1), rng.randrange(20, 300)):
            members.append((tid, vid, "joined", now))
    for aid in range(1, args.teams * 3 + 1):
        starts = now - timedelta(days=rng.randrange(0, 700))
        activities.append((aid, f"活动{aid}", "科普", rng.randrange(1, args.teams + 1), "某地",
                           starts, starts + timedelta(hours=3), "内容", "联系人", "finished",
                           now, now))  # fmt: skip
    seen: set[tuple[int, int]] = set()
    for _ in range(args.volunteers // 2):
        aid, vid = rng.randrange(1, len(activities) + 1), rng.randrange(1, args.volunteers + 1)
        if (aid, vid) in seen:
            continue
        seen.add((aid, vid))
        day = activities[aid - 1][5].date()
        records.append((aid, vid, "confirmed", rng.choice(("2.0", "3.5", "4.0", "8.0")),
                        f"活动{aid}", day, "某地", "讲解", "某队", "记录员", now, now, now))  # fmt: skip
    counties = [c.code for p in regions.prefectures() for c in regions.counties(p.code)]
    for tid in rng.sample(range(1, args.teams + 1), 30):
        pairings.append((tid, rng.choice(counties), "bench", now))
    counts["teams"] = tsv(folder / "teams.tsv", iter(teams))
    counts["team_memberships"] = tsv(folder / "team_memberships.tsv", iter(members))
    counts["activities"] = tsv(folder / "activities.tsv", iter(activities))
    counts["service_records"] = tsv(folder / "service_records.tsv", iter(records))
    counts["need_pairings"] = tsv(folder / "need_pairings.tsv", iter(pairings))
    return counts


LOADS = {
    "volunteers": VOLUNTEER_COLUMNS,
    "volunteer_skills": "volunteer_id, skill, prefecture_code, county_code, matchable, visible",
    "teams": "id, team_no, name, name_key, kind, level, prefecture_code, county_code,"
    " invite_code, status, needs_guidance, auto_approve, notices_allowed, created_at, updated_at",
    "team_memberships": "team_id, volunteer_id, status, created_at",
    "activities": "id, title, type, team_id, place, starts_at, ends_at, description, contact,"
    " status, created_at, updated_at",
    "service_records": "activity_id, volunteer_id, status, hours, activity_title, service_date,"
    " place, content, organiser, recorder, recorded_at, created_at, updated_at",
    "need_pairings": "team_id, county_code, created_by, created_at",
}


def load(engine: Engine, folder: Path) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET foreign_key_checks = 0")
        for table, columns in LOADS.items():
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{folder / (table + '.tsv')}' INTO TABLE {table}"
                f" CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t'"
                f" LINES TERMINATED BY '\\n' ({columns})"
            )
        raw.commit()
        for table in LOADS:
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
    finally:
        raw.close()


# -- timing ----------------------------------------------------------------------------------


class Recorder:
    """The statements (with parameters) an engine runs while `on`."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, params))


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    lines: list[str] = []
    with engine.connect() as conn:
        for i, (statement, params) in enumerate(statements, 1):
            first = " ".join(statement.split())[:150]
            lines.append(f"  query {i}: {first}{'…' if len(first) == 150 else ''}")
            result = conn.exec_driver_sql("EXPLAIN " + statement, params)
            keys = list(result.keys())
            for row in result:
                r = dict(zip(keys, row, strict=True))
                lines.append(
                    f"    {r['select_type']:<18} {r['table']!s:<14} {r['type']!s:<7}"
                    f" key={r['key']} rows={r['rows']} {r['Extra'] or ''}"
                )
            analyzed = conn.exec_driver_sql("ANALYZE FORMAT=JSON " + statement, params).scalar()
            block = json.loads(analyzed)["query_block"]
            lines.append(f"    ANALYZE: r_total_time_ms={block.get('r_total_time_ms', 0):.2f}")
    return lines


def check(session: Any, need: Any, found: Any, now: datetime) -> str | None:
    """Compare with the definitions before the skill rows, computed the slow way: JSON_SEARCH
    over every volunteer (the unnamed count, the candidates in place-then-id order) and every
    team's skilled members counted (the teams)."""
    from sqlalchemy import case

    from models.team import MEMBERSHIP_JOINED, STATUS_APPROVED, Membership, Team
    from models.volunteer import Volunteer
    from services import needs_matching as nm

    def has_skill(column: Any) -> Any:
        return func.json_search(column, "one", need.field).is_not(None)

    matching = (
        Volunteer.status == "active",
        Volunteer.openid.is_not(None),
        has_skill(Volunteer.skills),
    )
    unnamed = session.scalar(
        select(func.count()).where(*matching, Volunteer.skills_visible.is_(False))
    )
    if unnamed != found.unnamed:
        return f"unnamed {found.unnamed}, JSON_SEARCH {unnamed}"
    place = case(
        (Volunteer.county_code == (need.county_code or ""), 3),
        (Volunteer.prefecture_code == need.prefecture_code, 2),
        (
            Volunteer.prefecture_code.is_not(None)
            & (Volunteer.prefecture_code != regions.OUTSIDE_GANSU),
            1,
        ),
        else_=0,
    )
    reference = session.scalars(
        select(Volunteer.id)
        .where(*matching, Volunteer.skills_visible.is_(True))
        .order_by(place.desc(), Volunteer.id)
        .limit(nm.CANDIDATES)
    ).all()
    if [row.id for row in nm._candidates(session, need)] != list(reference):
        return "candidates differ from the JSON_SEARCH query"
    skilled = dict(
        session.execute(
            select(Membership.team_id, func.count())
            .join(Volunteer, Volunteer.id == Membership.volunteer_id)
            .where(Membership.status == MEMBERSHIP_JOINED, has_skill(Volunteer.skills))
            .group_by(Membership.team_id)
        ).all()
    )
    paired = nm.paired_team_ids(session, need.county_code)
    recent = nm._recent_activities(session, now)
    teams = session.execute(
        select(Team.id, Team.name, Team.prefecture_code, Team.county_code).where(
            Team.status == STATUS_APPROVED
        )
    ).all()
    every = [
        nm._team_suggestion(need, t, t.id in paired, skilled.get(t.id, 0), recent.get(t.id, 0))
        for t in teams
        if skilled.get(t.id) or t.id in paired
    ]
    every.sort(key=lambda s: (-s.score, -s.hours, s.id))
    if [(s.id, s.score, s.reasons) for s in every[: nm.SHOWN]] != [
        (s.id, s.score, s.reasons) for s in found.teams
    ]:
        return "teams differ from counting every team"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volunteers", type=int, default=200_000)
    parser.add_argument("--teams", type=int, default=400)
    parser.add_argument("--runs", type=int, default=9, help="warm runs per need")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--mysql", default=os.environ.get("BENCH_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (to inspect)")
    args = parser.parse_args(argv)

    from config import Settings
    from domain import clock
    from infra.db import Database
    from infra.migrate import upgrade
    from models.need import Need
    from models.volunteer import Volunteer
    from services.needs import NeedDraft, post_need, publish_need
    from services.needs_matching import CANDIDATES, suggest
    from services.operators import Scope

    name = f"kjzy_bench_matching_{secrets.token_hex(4)}"
    url = f"{args.mysql}/{name}?charset=utf8mb4&local_infile=1"
    admin = create_engine(args.mysql)
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        settings = Settings.from_env(
            {"DATABASE_URL": url, "PII_ENCRYPTION_KEY": "x" * 32}, load_dotenv=False
        )
        upgrade(settings)
        db = Database(settings)
        now = clock.utcnow().replace(microsecond=0)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            counts = generate(Path(tmp), args, now)
            generated = time.perf_counter() - started
            load(db.engine, Path(tmp))
        loaded = time.perf_counter() - started
        print(f"loaded in {loaded:.1f} s (generating {generated:.1f} s): "
              + ", ".join(f"{t} {n:,}" for t, n in counts.items()))  # fmt: skip
        cases = need_cases(clock.beijing_date(now))
        need_ids = []
        with db.Session.begin() as session:
            for case in cases:
                need = post_need(session, "oBenchPoster", NeedDraft(
                    requester_name="基准社区", requester_kind="社区",
                    prefecture_code=case.prefecture, county_code=case.county, field=case.field,
                    description="基准需求", starts_on=case.starts_on, ends_on=case.ends_on,
                    people_needed=5, contact_name="李红梅", contact_phone="13812345678"))  # fmt: skip
                publish_need(need, Scope(), "bench")
                session.flush()
                need_ids.append(need.id)

        recorder = Recorder(db.engine)
        load_before = os.getloadavg()

        def run_suggest(need_id: int) -> Any:
            with db.Session() as session:
                return suggest(session, session.get(Need, need_id), now)

        def run_floor(prefecture: str) -> Any:
            columns = (Volunteer.id, Volunteer.name, Volunteer.prefecture_code,
                       Volunteer.county_code, Volunteer.service_times)  # fmt: skip
            with db.Session() as session:
                return session.execute(
                    select(*columns)
                    .where(Volunteer.prefecture_code == prefecture)
                    .order_by(Volunteer.id)
                    .limit(CANDIDATES)
                ).all()

        results = []
        for case, need_id in zip(cases, need_ids, strict=True):
            recorder.on, recorder.statements = True, []
            cold, found = timed(lambda: run_suggest(need_id))  # noqa: B023
            recorder.on = False
            statements = list(recorder.statements)
            warm, floors, ratios = [], [], []
            for _ in range(args.runs):
                ms, _found = timed(lambda: run_suggest(need_id))  # noqa: B023
                floor_ms, _rows = timed(lambda: run_floor(case.prefecture))  # noqa: B023
                warm.append(ms)
                floors.append(floor_ms)
                ratios.append(ms / floor_ms)
            results.append((case, cold, warm, floors, ratios, found, statements))
        load_after = os.getloadavg()
        for (case, *_rest, found, _statements), need_id in zip(results, need_ids, strict=True):
            with db.Session() as session:
                problem = check(session, session.get(Need, need_id), found, now)
            if problem:
                print(f"MISMATCH {case.label}: {problem}")
                return 2
        print("checked: for every need the suggestions equal the pre-index definitions")

        print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
              f"(1-min; {os.cpu_count()} cores)\n")  # fmt: skip
        print(f"{'need':<32} {'named':>5} {'unnamed':>7} {'teams':>5} {'cold ms':>8} "
              f"{'warm ms':>8} {'floor ms':>8} {'ratio':>6}  goal < {GOAL_MS:.0f} ms")  # fmt: skip
        worst = 0.0
        for case, cold, warm, floors, ratios, found, _ in results:
            median = statistics.median(warm)
            worst = max(worst, median, cold)
            print(f"{case.label:<32} {len(found.volunteers):>5} {found.unnamed:>7} "
                  f"{len(found.teams):>5} {cold:>8.1f} {median:>8.1f} "
                  f"{statistics.median(floors):>8.2f} {statistics.median(ratios):>6.1f}"
                  f"  {'ok' if max(median, cold) < GOAL_MS else 'OVER'}")  # fmt: skip
        all_ratios = [r for result in results for r in result[4]]
        print(f"\nslowest (cold or warm median): {worst:.1f} ms vs goal {GOAL_MS:.0f} ms: "
              f"{'met' if worst < GOAL_MS else 'NOT met'}; "
              f"ratio to the floor (median of all rounds) {statistics.median(all_ratios):.1f}")  # fmt: skip
        for case, *_rest, statements in results:
            print(f"\nplans for 「{case.label}」 ({len(statements)} queries):")
            print("\n".join(explain(db.engine, statements)))
        db.engine.dispose()
        return 0 if worst < GOAL_MS else 1
    finally:
        with admin.connect() as conn:
            if args.keep:
                print(f"kept database {name}")
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
