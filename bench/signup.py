"""Benchmark a sign-up storm: 500 volunteers sign up for 20 activities at once (about a minute).

    .venv/bin/python bench/signup.py                          # 500 volunteers, 20 activities
    .venv/bin/python bench/signup.py --volunteers 200 --activities 10 --places 15

The service as deployed (bench/load.py's `Stack`: `python -m infra.webserver`, i.e. granian with
2 worker processes x 8 threads by default), real MariaDB and Redis, safe mode with AES, the fake
WeChat API, all on loopback. The volunteers and activities are written to the database first;
then every volunteer, on its own connection, sends 「候补 N」 (a place if one is left, else the
waiting list) for activity `i mod activities` at the same moment, once. Each sign-up takes its
activity's row lock, so sign-ups of one activity queue behind each other while different
activities proceed in parallel.

Prints sign-ups/s (all volunteers over the time until the last sign-up is in the database: a
handler past the 4-s reply budget finishes after the webhook answered), the service's CPU per
sign-up, per-request p50/p99 of the answered requests, how many were answered after WeChat's 5 s
and how many not within 10 s (an error), and proves from the database that no activity took more than its places, that the places were all
taken when demand exceeded them, and that every waiting list is numbered 1..n without a gap.
Exits 1 if any check fails. Bounded: every request times out after 10 s and the run after
`--timeout` seconds. tests/test_bench_signup.py runs it small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.load import ACCOUNT, APP_ID, TOKEN, Stack, random_aes_key  # noqa: E402
from infra.webserver import THREADS  # noqa: E402
from wechat.protocol import Mode, Protocol, build_inbound_xml  # noqa: E402

REQUEST_TIMEOUT = 10.0
WECHAT_WAITS = 5.0  # WeChat gives up on an answer after 5 s and sends the message again
OK_ANSWERS = ("signed up", "waiting", "late")
HELP_REPLY = "使用说明"


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


class SignUp:
    """One volunteer's 「候补 N」: a signed, encrypted POST /wechat as WeChat sends it."""

    def __init__(self, protocol: Protocol, openid: str, text: str) -> None:
        self.protocol = protocol
        fields = {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": text,
            "MsgId": uuid.uuid4().int % 10**15,
        }
        self.query, body = protocol.build_request(
            build_inbound_xml(fields), Mode.SAFE, openid=openid
        )
        self.request = (
            f"POST /wechat?{urlencode(self.query)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body

    def answer(self, status: int, data: bytes) -> str:
        """What the reply says: ours (XML, or `success` when the handler ran past the reply
        budget and answers through the API), or what is wrong with it."""
        if status != 200:
            return f"HTTP {status}"
        opened = self.protocol.open_reply(data, self.query)
        if opened is None:
            return "late"
        content = opened.get("Content", "")
        if "报名成功" in content:
            return "signed up"
        if "候补名单" in content:
            return "waiting"
        return f"unexpected reply {content[:60]!r}"


async def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on a new connection; (status, body) of the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length: int | None = None
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await (reader.read() if length is None else reader.readexactly(length))
        return status, data
    finally:
        writer.close()


async def sign_up_once(port: int, signup: SignUp, latencies: list[float]) -> str:
    started = time.perf_counter()
    try:
        status, data = await asyncio.wait_for(exchange(port, signup.request), REQUEST_TIMEOUT)
    except (OSError, EOFError, ValueError, IndexError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    latencies.append(time.perf_counter() - started)
    try:
        return signup.answer(status, data)
    except Exception as exc:  # a reply we cannot open counts as an error, with its reason
        return f"bad reply ({type(exc).__name__}: {exc})"


async def storm(
    port: int, protocol: Protocol, count: int, activity_ids: list[int]
) -> tuple[Counter[str], list[float], float]:
    """Every volunteer at once; (answers, latencies, the moment the first request went out).
    The requests are signed and encrypted before any is sent."""
    signups = [
        SignUp(protocol, openid(n), f"候补 {activity_ids[n % len(activity_ids)]}")
        for n in range(count)
    ]
    latencies: list[float] = []
    started = time.perf_counter()
    answers = await asyncio.gather(*(sign_up_once(port, s, latencies) for s in signups))
    return Counter(answers), latencies, started


async def warm_up(port: int, protocol: Protocol, count: int) -> None:
    """`count` 「帮助」 at once from other followers, twice, so that every worker thread has
    its connections and imports before the storm (a storm meets a running service)."""
    for round_number in range(2):
        messages = [
            SignUp(protocol, f"oWarmup{round_number}{n:020d}", "帮助") for n in range(count)
        ]
        replies = await asyncio.gather(*(exchange(port, m.request) for m in messages))
        for message, (status, data) in zip(messages, replies, strict=True):
            opened = message.protocol.open_reply(data, message.query) if status == 200 else None
            if opened is None or HELP_REPLY not in opened.get("Content", ""):
                raise RuntimeError(f"warm-up: unexpected answer HTTP {status} {data[:80]!r}")


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
    parser.add_argument("--workers", type=int, default=2, help="the service's worker processes")
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per worker")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--warmup", type=int, default=32, help="「帮助」 sent at once, twice, before (0: none)"
    )
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)

    stack = Stack(args.mysql, args.redis, random_aes_key(), args.workers, args.threads)
    try:
        server = stack.start()
        activity_ids = seed(stack.database_url, args.volunteers, args.activities, args.places)
        protocol = Protocol(TOKEN, APP_ID, stack.aes_key)
        print(
            f"granian {args.workers}x{args.threads} (python -m infra.webserver), MariaDB + Redis, "
            f"safe mode; {args.volunteers} volunteers -> {args.activities} activities x "
            f"{args.places} places; warm-up 2x{args.warmup} 「帮助」; "
            f"{os.cpu_count()} CPUs shared with the clients; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        if args.warmup:
            asyncio.run(asyncio.wait_for(warm_up(server.port, protocol, args.warmup), 60))
        cpu = server.cpu_seconds()
        answers, latencies, started = asyncio.run(
            asyncio.wait_for(
                storm(server.port, protocol, args.volunteers, activity_ids), args.timeout
            )
        )
        # Late handlers finish after the webhook answered: wait for the database.
        deadline = time.monotonic() + args.timeout
        while True:
            state = database_state(stack.database_url)
            total = sum(signed + len(waiting) for signed, waiting, _cap in state.values())
            if total >= args.volunteers or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(total, 1)
        code = report(args, answers, latencies, state, total, elapsed, cpu_ms)
        # Not a check of the sign-ups: the first-message observer (services.followers.seen)
        # writes a row for each volunteer it had not seen; shown because a storm strains it.
        followers = stack.count("SELECT COUNT(*) FROM followers WHERE openid LIKE 'oSignup%'")
        errors = stack.log_lines("observer failed openid=oSignup")
        print(
            f"  follower rows: {followers} of {args.volunteers}; observer failures logged: {errors}"
        )
        return code
    finally:
        stack.stop()


def quantiles_ms(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    if len(latencies) < 2:
        only = latencies[0] * 1000 if latencies else 0.0
        return only, only
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def problems_of(
    state: dict[int, tuple[int, list[int], int]], volunteers: int, activities: int
) -> list[str]:
    """What the database shows wrong: volunteer `n` asked for the `n mod activities`-th
    activity (by id), so each activity's demand is known."""
    demand = Counter(n % activities for n in range(volunteers))
    problems = []
    if len(state) != activities:
        problems.append(f"{len(state)} activities in the database, expected {activities}")
    for index, (activity_id, (signed, waiting, capacity)) in enumerate(sorted(state.items())):
        wanted = demand[index]
        if signed > capacity:
            problems.append(f"activity {activity_id}: {signed} signed up for {capacity} places")
        elif signed != min(capacity, wanted):
            problems.append(
                f"activity {activity_id}: {signed} signed up, expected {min(capacity, wanted)}"
            )
        if waiting != list(range(1, len(waiting) + 1)):
            problems.append(f"activity {activity_id}: waiting list {waiting[:8]}... has gaps")
        if signed + len(waiting) != wanted:
            problems.append(
                f"activity {activity_id}: {signed + len(waiting)} sign-ups, expected {wanted}"
            )
    return problems


def report(
    args: argparse.Namespace,
    answers: Counter[str],
    latencies: list[float],
    state: dict[int, tuple[int, list[int], int]],
    total: int,
    elapsed: float,
    cpu_ms: float,
) -> int:
    p50, p99 = quantiles_ms(latencies)
    print(f"  answers: {dict(answers)}")
    print(
        f"  {total} sign-ups in {elapsed:.2f} s = {total / elapsed:.0f} sign-ups/s; "
        f"service CPU {cpu_ms:.1f} ms per sign-up; load {os.getloadavg()[0]:.1f}"
    )
    slow = sum(1 for seconds in latencies if seconds > WECHAT_WAITS)
    print(
        f"  answered requests: p50 {p50:.0f} ms, p99 {p99:.0f} ms; {slow} answered after "
        f"{WECHAT_WAITS:g} s (WeChat would have sent those again); "
        f"{args.volunteers - len(latencies)} not answered in {REQUEST_TIMEOUT:g} s"
    )
    problems = problems_of(state, args.volunteers, args.activities)
    most = max((signed for signed, _w, _c in state.values()), default=0)
    print(
        f"  quota check: {len(state)} activities, at most {most} signed up per activity "
        f"(places {args.places}); waiting lists numbered 1..n: "
        + ("all OK" if not problems else f"{len(problems)} problems")
    )
    for problem in problems[:10]:
        print(f"    {problem}")
    errors = sum(n for answer, n in answers.items() if answer not in OK_ANSWERS)
    if errors:
        print(f"  errors: {errors}")
    return 1 if problems or errors or total != args.volunteers else 0


if __name__ == "__main__":
    sys.exit(main())
