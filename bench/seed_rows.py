"""Row generators for bench/seed_data.py: realistic volunteers, teams, memberships, activities,
sign-ups, attendance and service records for Gansu, written as tab-separated lines for
`LOAD DATA LOCAL INFILE` (NULL as \\N, backslashes doubled).

Everything is drawn from one seeded `random.Random`, so a run is reproducible. Times are UTC,
naive, spread over the three years before `World.now`.
"""

from __future__ import annotations

import bisect
import itertools
import json
import multiprocessing
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from domain import regions
from domain.choices import EDUCATION_LEVELS, OCCUPATIONS, SERVICE_TIMES, SKILLS
from domain.idcard import compute_check_digit, mask_id_number
from domain.pii import PiiCipher
from services.volunteers import ID_CONTEXT

N = "\\N"
YEARS = 3
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强海燕文杰晓东春梅小红永刚德明学军凤英兴旺淑珍金花宏伟丹丹"
EMPLOYERS = (
    "兰州大学",
    "西北师范大学",
    "甘肃农业大学",
    "兰州理工大学",
    "甘肃省人民医院",
    "天水市第一人民医院",
    "酒泉钢铁集团",
    "金川集团",
    "甘肃省农业科学院",
    "某县农业技术推广中心",
    "某乡镇卫生院",
    "某中学",
    "某小学",
    "甘肃科技馆",
    "兰州新区管委会",
    "个体",
)
PLACES = ("社区活动中心", "村委会广场", "中心小学", "科技馆", "乡镇卫生院", "农业示范园", "图书馆")
TITLES = (
    "科普进社区",
    "农技下乡",
    "健康义诊",
    "青少年科技营",
    "防灾减灾科普",
    "智能手机培训",
    "果树修剪指导",
    "科普大篷车",
)
# Weights of the 市州 roughly by population (兰州、天水、定西、陇南 largest).
PREFECTURE_WEIGHTS = (16, 1, 2, 6, 12, 7, 5, 8, 4, 9, 11, 10, 8, 3)
PREFECTURE_KINDS_TEAM = ("society", "unit", "other")
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def esc(value: str) -> str:
    """A text field for LOAD DATA: backslash, tab and newline escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def ts(value: datetime | None) -> str:
    """Every generated time has whole seconds, so str() gives MariaDB's DATETIME text."""
    return N if value is None else str(value)


def json_text(values: Sequence[str]) -> str:
    """As SQLAlchemy's JSON type stores it (json.dumps: non-ASCII as \\u escapes)."""
    return esc(json.dumps(list(values)))


def line(values: Sequence[object]) -> str:
    return "\t".join(N if v is None else str(v) for v in values) + "\n"


@dataclass
class World:
    """What later tables need from earlier ones."""

    rng: random.Random
    now: datetime
    scale: float
    prefectures: list[str] = field(default_factory=list)
    counties: dict[str, list[str]] = field(default_factory=dict)
    volunteer_count: int = 0
    openids: list[str | None] = field(default_factory=list)
    volunteer_created: list[float] = field(default_factory=list)  # seconds since start
    volunteer_prefecture: list[int] = field(default_factory=list)
    teams: list[tuple[int, str, str | None, str | None, str]] = field(default_factory=list)
    approved_by_prefecture: dict[str, list[int]] = field(default_factory=dict)
    team_weights: dict[str, list[float]] = field(default_factory=dict)
    team_names: dict[int, str] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # joined members per team
    big_team: int = 0  # the 兰州市 team, with about 2 % of all volunteers

    def county(self, prefecture: str) -> str | None:
        found = self.counties[prefecture]
        return self.rng.choice(found) if found else None

    @property
    def start(self) -> datetime:
        return self.now - timedelta(days=365 * YEARS)

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=int(seconds))

    def span(self) -> float:
        return (self.now - self.start).total_seconds()


def make_world(seed: int, scale: float, now: datetime) -> World:
    world = World(rng=random.Random(seed), now=now.replace(microsecond=0), scale=scale)
    for division in regions.prefectures():
        world.prefectures.append(division.code)
        world.counties[division.code] = [c.code for c in regions.counties(division.code)]
    return world


def _unique_code(i: int, modulus: int, multiplier: int = 7919) -> int:
    """A bijection of 0..modulus-1 (multiplier coprime with modulus): unique, random-looking."""
    return (i * multiplier + 12345) % modulus


def _invite(i: int) -> str:
    n = _unique_code(i, 32**6, 40503)
    return "".join(INVITE_ALPHABET[(n >> (5 * k)) & 31] for k in range(6))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(("13", "15", "18", "17", "19")) + f"{rng.randrange(10**9):09d}"


BIRTH_DAYS = 365 * 52 + 1  # odd and not a multiple of 5: coprime with 7919's use below


def _id_number(i: int, area: str, births: list[str]) -> str:
    """A valid, unique 18-digit ID number for volunteer i: the 3-digit serial is i mod 1000 and
    the birth date a bijection of (i div 1000, serial), so no two volunteers share a number."""
    serial = i % 1000
    birth = births[((i // 1000) * 7919 + serial * 131) % len(births)]
    first17 = f"{area}{birth}{serial:03d}"
    return first17 + compute_check_digit(first17)


# -- volunteers and followers ---------------------------------------------------------------


VOLUNTEER_COLUMNS = [
    "id",
    "volunteer_no",
    "openid",
    "status",
    "name",
    "id_number_cipher",
    "id_number_hash",
    "id_number_masked",
    "gender",
    "birth_date",
    "phone",
    "education",
    "prefecture_code",
    "county_code",
    "employer",
    "occupation",
    "skills",
    "specialty",
    "service_times",
    "skills_visible",
    "consent_version",
    "consented_at",
    "imported_at",
    "created_at",
    "updated_at",
    "deregistered_at",
]


def volunteers(world: World, pii_key: str, jobs: int = 2) -> Iterator[str]:
    """The volunteers, generated by `jobs` processes in chunks (encryption is most of the
    work); records in `world` what later tables need."""
    count = int(1_000_000 * world.scale)
    world.volunteer_count = count
    span = world.span()
    world.volunteer_created = [span * ((i / count) ** 0.5) for i in range(1, count + 1)]
    chunks = [(pii_key, lo, min(count, lo + CHUNK - 1)) for lo in range(1, count + 1, CHUNK)]
    global _FORKED_WORLD
    _FORKED_WORLD = world  # the forked workers inherit it (nothing large is pickled)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for text, openids, prefectures in pool.imap(_volunteer_chunk, chunks):
            world.openids.extend(openids)
            world.volunteer_prefecture.extend(prefectures)
            yield text


CHUNK = 50_000
_FORKED_WORLD: World | None = None


def _volunteer_chunk(job: tuple[str, int, int]) -> tuple[str, list[str | None], bytes]:
    pii_key, lo, hi = job
    world = _FORKED_WORLD
    assert world is not None
    world.rng = random.Random(f"{world.rng.random()}-{lo}")
    pii = PiiCipher(pii_key)
    openids: list[str | None] = []
    prefectures = bytearray()
    lines = list(_volunteer_lines(world, pii, lo, hi, openids, prefectures))
    return "".join(lines), openids, bytes(prefectures)


def _volunteer_lines(
    world: World, pii: PiiCipher, lo: int, hi: int, openids: list[str | None], prefs: bytearray
) -> Iterator[str]:
    rng = world.rng
    rand = rng.random
    count = world.volunteer_count
    span = world.span()
    oldest = date(world.now.year - 70, 1, 1)
    births = [f"{oldest + timedelta(days=d):%Y%m%d}" for d in range(BIRTH_DAYS)]
    names = [_name(rng) for _ in range(5_000)]
    skill_sets = [json_text(c) for k in (1, 2, 3) for c in itertools.combinations(SKILLS, k)]
    time_sets = [json_text(c) for k in (1, 2) for c in itertools.combinations(SERVICE_TIMES, k)]
    education = [e for e, w in zip(EDUCATION_LEVELS, (20, 25, 40, 12, 3), strict=True)
                 for _ in range(w)]  # fmt: skip
    cum_pref = list(itertools.accumulate(PREFECTURE_WEIGHTS))
    specialties = [N] * 7 + ["擅长" + s for s in SKILLS[:3]]
    for i in range(lo, hi + 1):
        # More people registered lately: density grows linearly over the three years.
        created = ts(world.at(span * ((i / count) ** 0.5)))
        p = bisect.bisect_right(cum_pref, rand() * cum_pref[-1])
        prefecture = world.prefectures[p]
        county = world.county(prefecture)
        prefs.append(p)
        roll = rand()
        active = roll >= 0.01
        imported = roll > 0.97
        openid = f"oKJZY{_unique_code(i, 10**12):012d}x" if active and not imported else None
        openids.append(openid)
        no = f"KJ{_unique_code(i, 10**10):010d}"
        if not active:
            yield f"{i}\t{no}\t{N}\tderegistered" + f"\t{N}" * 15 + \
                f"\t0\t2026-11\t{created}\t{N}\t{created}\t{created}\t{created}\n"  # fmt: skip
            continue
        number = _id_number(i, county or prefecture, births)
        fields = (
            i, no, openid or N, "active", names[int(rand() * 5_000)],
            pii.encrypt(number, context=ID_CONTEXT), pii.blind_index(number, context=ID_CONTEXT),
            mask_id_number(number), "男" if int(number[16]) % 2 else "女",
            f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
            f"1{int(3e9 + rand() * 6.99e9)}", education[int(rand() * 100)], prefecture,
            county if county and rand() < 0.9 else N, EMPLOYERS[int(rand() * len(EMPLOYERS))],
            OCCUPATIONS[int(rand() * len(OCCUPATIONS))],
            skill_sets[int(rand() * len(skill_sets))], specialties[int(rand() * 10)],
            time_sets[int(rand() * len(time_sets))], int(rand() < 0.3),
            N if imported else "2026-11", N if imported else created,
            created if imported else N, created, created, N,
        )  # fmt: skip
        yield "\t".join(map(str, fields)) + "\n"


FOLLOWER_COLUMNS = [
    "id",
    "openid",
    "subscribed",
    "refuses_notices",
    "subscribe_scene",
    "first_seen_at",
    "last_seen_at",
    "unsubscribed_at",
]


def followers(world: World) -> Iterator[str]:
    """Every volunteer with an openid follows (a few left or refuse notices), and a third as
    many people follow without registering."""
    rng, fid = world.rng, 0
    extra = int(world.volunteer_count * 0.3)
    for i, openid in enumerate(world.openids):
        if openid is None:
            continue
        fid += 1
        seen = world.at(world.volunteer_created[i])
        left = rng.random() < 0.04
        yield line([fid, openid, int(not left), int(rng.random() < 0.01), "qrscene",
                    ts(seen), ts(seen), ts(seen + timedelta(days=90)) if left else None])  # fmt: skip
    span = world.span()
    for j in range(extra):
        fid += 1
        seen = world.at(rng.random() * span)
        yield line([fid, f"oFOLW{j:012d}y", 1, 0, None, ts(seen), ts(seen), None])


# -- teams, admins and memberships ----------------------------------------------------------

TEAM_COLUMNS = [
    "id",
    "team_no",
    "name",
    "name_key",
    "kind",
    "level",
    "parent_id",
    "prefecture_code",
    "county_code",
    "host_org",
    "captain_name",
    "captain_phone",
    "contact_phone",
    "description",
    "service_areas",
    "invite_code",
    "status",
    "reject_reason",
    "needs_guidance",
    "auto_approve",
    "notices_allowed",
    "registrant_openid",
    "created_at",
    "updated_at",
    "approved_at",
]
SUBJECTS = ("农学", "医学", "化学", "物理", "计算机", "林学", "水利", "地质", "气象", "药学")
# (kind, level, share of the teams below the region teams, what its parent is)
TEAM_PLAN = (
    ("society", "队", 0.03, "root"),
    ("unit", "队", 0.17, "root"),
    ("other", "队", 0.01, "root"),
    ("committee", "支队", 0.08, "society"),
    ("branch", "支队", 0.35, "team"),
    ("squad", "分队", 0.36, "branch"),
)


def _team_status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.90:
        return "approved"
    if roll < 0.95:
        return "pending"
    if roll < 0.98:
        return "rejected"
    return "disabled" if roll < 0.99 else "withdrawn"


def teams(world: World) -> Iterator[str]:
    from domain.team_names import name_key

    rng, total = world.rng, max(200, int(20_000 * world.scale))
    span = world.span()
    openids = [o for o in world.openids[:50_000] if o]
    by_kind: dict[str, list[int]] = {}
    info: dict[int, tuple[str, str | None, str | None]] = {}
    tid = 0

    def emit(kind: str, level: str, name: str, parent: int | None, pref: str | None,
             county: str | None, status: str, created_s: float) -> str:  # fmt: skip
        nonlocal tid
        tid += 1
        created = world.at(created_s)
        approved = status in ("approved", "disabled")
        keyed = status not in ("rejected", "withdrawn")
        world.teams.append((tid, level, pref, county, status))
        world.team_names[tid] = name
        info[tid] = (name, pref, county)
        if status == "approved":
            by_kind.setdefault(kind, []).append(tid)
            if kind != "root" and pref:
                world.approved_by_prefecture.setdefault(pref, []).append(tid)
        return line([
            tid, f"KT{_unique_code(tid, 10**8):08d}", esc(name), esc(name_key(name)) if keyed else None,
            kind, level, parent, pref, county, "甘肃省科学技术协会" if kind == "root" else
            rng.choice(EMPLOYERS), _name(rng), _phone(rng), _phone(rng), "服务基层，普及科学。",
            json_text(rng.sample(SKILLS, 2)), _invite(tid), status,
            "材料不全" if status == "rejected" else None, 0, int(rng.random() < 0.2), 1,
            rng.choice(openids) if openids else None, ts(created), ts(created),
            ts(created + timedelta(days=2)) if approved else None,
        ])  # fmt: skip

    yield emit("root", "总队", "甘肃省科技志愿服务总队", None, None, None, "approved", 0)
    root = tid
    region_team: dict[str, int] = {}
    for pref in world.prefectures:
        label = regions.label(pref).removeprefix("甘肃省")
        yield emit("prefecture", "队", f"{label}科技志愿服务队", root, pref, None, "approved",
                   rng.random() * span * 0.1)  # fmt: skip
        region_team[pref] = tid
    for pref in world.prefectures:
        for county in world.counties[pref]:
            label = regions.label(county).removeprefix("甘肃省")
            yield emit("county", "队", f"{label}科技志愿服务队", region_team[pref], pref, county,
                       "approved", rng.random() * span * 0.3)  # fmt: skip
    rest = total - tid
    for kind, level, share, parent_kind in TEAM_PLAN:
        for _ in range(int(rest * share)):
            status = _team_status(rng)
            created_s = rng.random() * span
            if parent_kind == "root":
                parent = root
                pref = rng.choices(world.prefectures, weights=PREFECTURE_WEIGHTS)[0]
                county = world.county(pref) if rng.random() < 0.5 else None
                base = rng.choice(EMPLOYERS if kind == "unit" else SUBJECTS)
                name = f"{base}{tid + 1}科技志愿服务队" if kind != "society" else \
                    f"甘肃省{base}学会{tid + 1}科技志愿服务队"  # fmt: skip
            else:
                pool = (
                    by_kind.get(parent_kind)
                    if parent_kind != "team"
                    else by_kind.get("unit", []) + by_kind.get("county", [])
                ) or [root]
                parent = rng.choice(pool)
                parent_name, pref, county = info[parent]
                word = (
                    "专委会支队" if kind == "committee" else ("分队" if level == "分队" else "支队")
                )
                name = f"{parent_name[:60]}{rng.choice(SUBJECTS)}{tid + 1}{word}"
            yield emit(kind, level, name, parent, pref, county, status, created_s)
    # Heavy-tailed team sizes: a few teams have thousands of members, most a few dozen.
    for pref, ids in world.approved_by_prefecture.items():
        weights = [rng.paretovariate(1.1) for _ in ids]
        world.team_weights[pref] = list(itertools.accumulate(weights))
    world.big_team = region_team[world.prefectures[0]]


MEMBERSHIP_COLUMNS = ["id", "team_id", "volunteer_id", "status", "created_at", "decided_at"]


def memberships(world: World) -> Iterator[str]:
    rng, mid = world.rng, 0
    big = world.big_team
    prefs = world.prefectures
    all_pref = [p for p in prefs if world.approved_by_prefecture.get(p)]
    for i in range(1, world.volunteer_count + 1):
        if world.openids[i - 1] is None and rng.random() < 0.5:
            continue
        k = rng.choices((0, 1, 2, 3), weights=(10, 72, 15, 3))[0]
        chosen: set[int] = set()
        for _ in range(k):
            if rng.random() < 0.02:
                chosen.add(big)
                continue
            pref = prefs[world.volunteer_prefecture[i - 1]]
            if rng.random() < 0.2 or pref not in world.team_weights:
                pref = rng.choice(all_pref)
            cum = world.team_weights[pref]
            ids = world.approved_by_prefecture[pref]
            chosen.add(ids[bisect.bisect_right(cum, rng.random() * cum[-1])])
        created_s = world.volunteer_created[i - 1]
        for team_id in sorted(chosen):
            mid += 1
            roll = rng.random()
            status = "joined" if roll < 0.92 else ("pending" if roll < 0.96 else
                                                   ("left" if roll < 0.99 else "rejected"))  # fmt: skip
            joined_at = world.at(created_s + rng.random() * 86400 * 30)
            if joined_at > world.now:
                joined_at = world.now
            if status == "joined":
                world.members.setdefault(team_id, []).append(i)
            decided = None if status == "pending" else ts(joined_at + timedelta(hours=5))
            yield line([mid, team_id, i, status, ts(joined_at), decided])


ADMIN_COLUMNS = ["id", "team_id", "openid", "volunteer_id", "created_at", "selected_at"]


def team_admins(world: World) -> Iterator[str]:
    aid = 0
    for team_id, _level, _pref, _county, status in world.teams:
        if status != "approved":
            continue
        for volunteer_id in world.members.get(team_id, [])[:3]:
            openid = world.openids[volunteer_id - 1]
            if openid is None:
                continue
            aid += 1
            yield line([aid, team_id, openid, volunteer_id, ts(world.start), None])
            break
