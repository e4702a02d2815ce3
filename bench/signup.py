"""Benchmark a sign-up storm: 500 volunteers sign up for 20 activities at once (about a minute).

    .venv/bin/python bench/signup.py                          # 500 volunteers, 20 activities
    .venv/bin/python bench/signup.py --volunteers 200 --activities 10 --places 15

Same environment as bench/webhook.py (gunicorn gthread, real MariaDB and Redis, safe mode with
AES, the fake WeChat API, all on loopback). The volunteers and activities are written to the
database first; then every volunteer, on its own keep-alive connection, sends 「候补 N」 (a place
if one is left, else the waiting list) for activity `i mod activities` at the same moment, once.
Each sign-up takes its activity's row lock, so sign-ups of one activity queue behind each other
while different activities proceed in parallel.

Prints sign-ups/s (all volunteers over the time until the last sign-up is in the database: a
handler past the 4-s reply budget finishes after the webhook answered), per-request p50/p99, and
proves from the database that no activity took more than its places, that the places were all
taken when demand exceeded them, and that every waiting list is numbered 1..n without a gap.
Exits 1 if any check fails. Bounded: every request times out after 10 s and the run after
`--timeout` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.webhook import (  # noqa: E402
    APP_ID,
    TOKEN,
    BenchUser,
    Environment,
    Stats,
    percentile,
)
from wechat.protocol import Mode, Protocol, build_inbound_xml  # noqa: E402


def seed(database_url: str, volunteers: int, activities: int, places: int) -> list[int]:
    """A team, `activities` activities with `places` places each, and `volunteers` volunteers
    (openids oSignup00000…). Returns the activity ids."""
    from sqlalchemy import insert

    from config import Settings
    from domain import team_names
    from domain.clock import utcnow
    from infra.db import Database
    from models.activity import RECRUITING, Activity
    from models.volunteer import ACTIVE, Volunteer
    from services import teams

    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "PII_ENCRYPTION_KEY": "x" * 32}, load_dotenv=False
    )
    db = Database(settings)
    now = utcnow().replace(microsecond=0)
    with db.Session.begin() as session:
        teams.seed_root(session)
        team = teams.register(
            session,
            openid="oSignupBenchRegistrant000001",
            form=teams.TeamForm(
                kind=team_names.SOCIETY,
                name="甘肃省科普作家协会科技志愿服务队",
                prefecture_code="620000",
                host_org="甘肃省科普作家协会",
            ),
        )
        teams.approve(session, team.id)
        ids = []
        for n in range(activities):
            activity = Activity(
                title=f"科普活动{n + 1}",
                type="科学普及",
                team_id=team.id,
                prefecture_code="620100",
                county_code="620102",
                place="兰州市城关区科技馆",
                starts_at=now + timedelta(days=7),
                ends_at=now + timedelta(days=7, hours=3),
                capacity=places,
                description="基准测试活动。",
                contact="李老师 0931-1234567",
                status=RECRUITING,
                published_at=now,
            )
            session.add(activity)
            session.flush()
            ids.append(activity.id)
        session.execute(
            insert(Volunteer),
            [
                {
                    "volunteer_no": f"KB{n:010d}",
                    "openid": openid(n),
                    "status": ACTIVE,
                    "name": f"志愿者{n}",
                    "prefecture_code": "620100",
                    "county_code": "620102",
                    "skills": ["科学普及"],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(volunteers)
            ],
        )
    db.dispose()
    return ids


def openid(n: int) -> str:
    return f"oSignup{n:021d}"


async def sign_up_once(user: BenchUser, text: str, latencies: list[float]) -> str:
    """One 「候补 N」 through the webhook; the reply is checked to be ours (XML, or `success`
    when the handler ran past the reply budget and answers through the API)."""
    fields = user._base("text") | {"Content": text, "MsgId": uuid.uuid4().int % 10**15}
    query, body = user.protocol.build_request(
        build_inbound_xml(fields), Mode.SAFE, openid=user.openid
    )
    request = (
        f"POST /wechat?{urlencode(query)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    started = time.perf_counter()
    try:
        status, data = await asyncio.wait_for(user._exchange(request), 10)
    except (OSError, EOFError, ValueError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        user.close()
    latencies.append(time.perf_counter() - started)
    if status != 200:
        return f"HTTP {status}"
    if data == b"success":
        return "late"
    opened = user.protocol.open_reply(data, query) or {}
    content = opened.get("Content", "")
    if "报名成功" in content:
        return "signed up"
    if "候补名单" in content:
        return "waiting"
    return f"unexpected reply {content[:60]!r}"


async def storm(
    port: int, protocol: Protocol, count: int, activity_ids: list[int]
) -> tuple[Counter[str], list[float]]:
    latencies: list[float] = []
    users = []
    for n in range(count):
        user = BenchUser(port, protocol, "/wechat", Stats())
        user.openid = openid(n)
        users.append(user)
    answers = await asyncio.gather(
        *(
            sign_up_once(user, f"候补 {activity_ids[n % len(activity_ids)]}", latencies)
            for n, user in enumerate(users)
        )
    )
    return Counter(answers), latencies


def database_state(database_url: str) -> dict[int, tuple[int, list[int], int]]:
    """activity id -> (signed up, waiting positions in order, capacity)."""
    from sqlalchemy import select

    from config import Settings
    from infra.db import Database
    from models.activity import SIGNED_UP, WAITLISTED, Activity, Signup

    db = Database(
        Settings.from_env(
            {"DATABASE_URL": database_url, "PII_ENCRYPTION_KEY": "x" * 32}, load_dotenv=False
        )
    )
    state: dict[int, tuple[int, list[int], int]] = {}
    with db.Session() as session:
        signed: Counter[int] = Counter()
        waiting: dict[int, list[int]] = defaultdict(list)
        for signup in session.scalars(select(Signup).order_by(Signup.id)):
            if signup.status == SIGNED_UP:
                signed[signup.activity_id] += 1
            elif signup.status == WAITLISTED and signup.waitlist_position is not None:
                waiting[signup.activity_id].append(signup.waitlist_position)
        for activity in session.scalars(select(Activity)):
            state[activity.id] = (signed[activity.id], waiting[activity.id], activity.capacity or 0)
    db.dispose()
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=500)
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--places", type=int, default=20, help="places per activity")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    # Environment reads these from bench/webhook.py's arguments.
    args.users, args.duration, args.warmup = args.volunteers, 0.0, 0.0

    environment = Environment(args)
    try:
        environment.start()
        activity_ids = seed(environment.database_url, args.volunteers, args.activities, args.places)
        protocol = Protocol(TOKEN, APP_ID, environment.aes_key)
        print(
            f"gunicorn gthread {args.workers}x{args.threads}, MariaDB + Redis, safe mode; "
            f"{args.volunteers} volunteers -> {args.activities} activities x {args.places} places; "
            f"{os.cpu_count()} CPUs shared with the clients"
        )
        started = time.perf_counter()
        answers, latencies = asyncio.run(
            asyncio.wait_for(
                storm(environment.port, protocol, args.volunteers, activity_ids), args.timeout
            )
        )
        # Late handlers finish after the webhook answered: wait for the database.
        deadline = time.monotonic() + args.timeout
        while True:
            state = database_state(environment.database_url)
            total = sum(signed + len(waiting) for signed, waiting, _cap in state.values())
            if total >= args.volunteers or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        return report(args, answers, latencies, state, total, elapsed)
    finally:
        environment.stop()


def report(
    args: argparse.Namespace,
    answers: Counter[str],
    latencies: list[float],
    state: dict[int, tuple[int, list[int], int]],
    total: int,
    elapsed: float,
) -> int:
    latencies.sort()
    print(f"  answers: {dict(answers)}")
    print(
        f"  {total} sign-ups in {elapsed:.2f} s = {total / elapsed:.0f} sign-ups/s; "
        f"per request p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms"
    )
    demand = Counter(n % args.activities for n in range(args.volunteers))
    problems = []
    for index, (activity_id, (signed, waiting, capacity)) in enumerate(sorted(state.items())):
        wanted = demand[index]
        if signed > capacity:
            problems.append(f"activity {activity_id}: {signed} signed up for {capacity} places")
        if signed != min(capacity, wanted):
            problems.append(
                f"activity {activity_id}: {signed} signed up, expected {min(capacity, wanted)}"
            )
        if waiting != list(range(1, len(waiting) + 1)):
            problems.append(f"activity {activity_id}: waiting list {waiting[:5]}... has gaps")
        if signed + len(waiting) != wanted:
            problems.append(
                f"activity {activity_id}: {signed + len(waiting)} sign-ups, expected {wanted}"
            )
    most = max(signed for signed, _w, _c in state.values())
    print(
        f"  quota check: {len(state)} activities, at most {most} signed up per activity "
        f"(places {args.places}); waiting lists numbered 1..n: "
        + ("all OK" if not problems else f"{len(problems)} problems")
    )
    for problem in problems[:10]:
        print(f"    {problem}")
    errors = sum(
        n for answer, n in answers.items() if answer not in ("signed up", "waiting", "late")
    )
    if errors:
        print(f"  errors: {errors}")
    return 1 if problems or errors or total != args.volunteers else 0


if __name__ == "__main__":
    sys.exit(main())
