"""What bench/notices.py runs: the fake WeChat API in a process of its own, the volunteers, the
floors (the fake alone under wrk; the send path alone with no database) and the worker runs,
with the CPU each process spent."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, insert, select

from config import Settings
from infra.db import Database
from infra.redis import Keys
from models.base import utcnow
from models.follower import Follower
from models.notice import R_SENT, Notice, NoticeRecipient
from models.volunteer import ACTIVE, Volunteer
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_REMINDER
from wechat.client import WeChatAPI
from wechat.template_sender import TemplateMessage, TemplateSender
from worker.queue import RQNoticeQueue

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEND = "/cgi-bin/message/template/send"
APP_ID, APP_SECRET = "wx1234567890abcdef", "bench-app-secret"
DATA = {
    "thing1": "青少年科普进社区",
    "time2": "2026年12月5日 09:00",
    "thing3": "兰州市城关区科技馆",
    "thing4": "请提前15分钟到场签到",
}
TICKS = os.sysconf("SC_CLK_TCK")


def say(line: str) -> None:
    print(line, flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# -- the fake ------------------------------------------------------------------------------------


@dataclass
class Fake:
    url: str
    pid: int


@contextmanager
def fake_wechat(port: int, kind: str) -> Iterator[Fake]:
    """The fake in a process of its own: "asyncio" (sandbox.fake_wechat_fast) or "gunicorn"
    (one process, 64 threads: the server of the earlier runs)."""
    if kind == "asyncio":
        command = [sys.executable, "-m", "sandbox.fake_wechat_fast", "--port", str(port)]
    else:
        command = [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
            "--threads", "64", "--keep-alive", "30", "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
            f"sandbox.fake_wechat:create_fake_wechat('{APP_ID}', '{APP_SECRET}')",
        ]  # fmt: skip
    env = {**os.environ, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # a minute: a loaded machine starts Python slowly
            try:
                control(url, "/_fake/reset", {})
                break
            except OSError:
                time.sleep(0.1)
        yield Fake(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def reset(url: str, latency: float) -> None:
    control(url, "/_fake/reset", {})
    control(url, "/_fake/slow", {"api": SEND, "seconds": latency})


def windows(times: list[float]) -> dict[str, Any]:
    """Sorted moments of sends: the sends in the 1-s window from the first, the busiest 1-s
    window (any start) and the rate over the whole seconds from the first."""
    if not times:
        return {"first_window": 0, "busiest": 0, "rate": 0.0}
    whole = int(times[-1] - times[0])
    in_whole = bisect.bisect_left(times, times[0] + whole)
    return {
        "first_window": bisect.bisect_left(times, times[0] + 1.0),
        "busiest": max(bisect.bisect_left(times, t + 1.0) - n for n, t in enumerate(times)),
        "rate": in_whole / whole if whole else float(len(times)),
    }


def written(trace: Path) -> dict[str, Any]:
    """The workers' side (bench.notices_trace): each request's write, windows() of them."""
    times = sorted(float(line) for line in trace.read_text().split())
    return {**windows(times), "sends": len(times)}


def at_the_fake(url: str, expected: int) -> dict[str, Any]:
    """Sends as the fake saw them: per-second rate over whole seconds, the busiest second,
    and whether each recipient got exactly one message."""
    calls = [c for c in control(url, f"/_fake/calls?api={SEND}")["calls"] if c["errcode"] == 0]
    times = sorted(c["received"] for c in calls)  # when each request arrived
    duplicates = len(control(url, "/_fake/duplicates")["duplicates"])
    unique = len({c["json"]["touser"] for c in calls})
    whole = int(times[-1] - times[0]) if times else 0
    per_second = [0] * whole
    for moment in times:
        second = int(moment - times[0])
        if second < whole:
            per_second[second] += 1
    busiest, busiest_at, start = 0, 0.0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        if end - start + 1 > busiest:
            busiest, busiest_at = end - start + 1, times[start] - times[0]
    return {
        "first_gaps_ms": [round((b - a) * 1000, 1) for a, b in itertools.pairwise(times[:41])],
        "first_tenths": [  # sends in each tenth of the first second
            sum(1 for moment in times if int((moment - times[0]) * 10) == tenth)
            for tenth in range(10)
        ],
        "busiest_at": busiest_at,
        "first_window": bisect.bisect_left(times, times[0] + 1.0) if times else 0,
        "rate": sum(per_second) / whole if whole else float(len(times)),
        "busiest": busiest,
        "seconds": times[-1] - times[0] if times else 0.0,
        "once": unique == expected and len(calls) - duplicates == expected,
        "unique": unique,
        "duplicates": duplicates,
        "per_second": per_second,
    }


def fake_capacity(fake: Fake, latency: float, seconds: float, connections: int) -> dict[str, Any]:
    """wrk alone against the fake's template send (a new recipient per request): requests/s
    and the fake's CPU per request. None when wrk is not installed (bash bench/setup.sh)."""
    if shutil.which("wrk") is None:
        return {}
    from bench.load import WORK, run_wrk, write_lines

    reset(fake.url, latency)
    token = control(
        fake.url,
        "/cgi-bin/stable_token",
        {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET},
    )["access_token"]
    message = TemplateMessage(TEMPLATE_ACTIVITY_REMINDER, DATA)
    lines = (
        f"access_token={token}\t{message.body(f'oCap{n:020d}').decode()}" for n in range(30000)
    )
    file = WORK / "notices_fake.txt"
    write_lines(file, lines)
    cpu = cpu_seconds(fake.pid)
    result = run_wrk(int(fake.url.rsplit(":", 1)[1]), SEND, file, seconds, connections=connections)
    cpu = cpu_seconds(fake.pid) - cpu
    calls = control(fake.url, f"/_fake/calls?api={SEND}")["calls"]
    errors = sum(1 for c in calls if c["errcode"] != 0)
    control(fake.url, "/_fake/reset", {})
    return {
        "rate": result.rate,
        "cpu_ms": cpu * 1000 / max(result.requests, 1),
        "p99_ms": result.p99_ms,
        "errors": errors + result.non_2xx + result.socket_errors,
    }


# -- the send path without a database -------------------------------------------------------------


def raw_lean_rate(
    settings: Settings, client: redis.Redis, calls: int, in_flight: int
) -> dict[str, float]:
    """Template sends from one asyncio loop (the workers' path) with no database: sends/s and
    this process's CPU per send."""
    api = WeChatAPI(settings, client, Keys(settings.redis_prefix))
    api.access_token()
    message = TemplateMessage(TEMPLATE_ACTIVITY_REMINDER, DATA)

    async def main() -> float:
        sender = TemplateSender(api, settings, connections=in_flight)
        numbers = iter(range(calls))

        async def lane() -> None:
            for n in numbers:
                await sender.send(f"oRaw{n:020d}", message, f"raw-{n}")

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(in_flight)))
        took = time.perf_counter() - started
        await sender.aclose()
        return took

    cpu = _own_cpu()
    took = asyncio.run(main())
    cpu = _own_cpu() - cpu
    api.close()
    return {"rate": calls / took, "cpu_ms": cpu * 1000 / calls}


def raw_wechatpy_rate(
    settings: Settings, client: redis.Redis, calls: int, threads: int
) -> dict[str, float]:
    """The same through WeChatAPI.send_template (wechatpy over requests), a thread per send in
    flight: the path the workers used before."""
    keys = Keys(settings.redis_prefix)
    counter = iter(range(calls))
    lock = threading.Lock()

    def work() -> None:
        api = WeChatAPI(settings, client, keys)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                api.close()
                return
            api.send_template(f"oOld{n:020d}", TEMPLATE_ACTIVITY_REMINDER, DATA)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    cpu, started = _own_cpu(), time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    took, cpu = time.perf_counter() - started, _own_cpu() - cpu
    return {"rate": calls / took, "cpu_ms": cpu * 1000 / calls}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- data -----------------------------------------------------------------------------------------


def add_volunteers(db: Database, count: int) -> None:
    now = utcnow()
    with db.Session.begin() as session:
        for start in range(0, count, 5000):
            numbers = range(start, min(start + 5000, count))
            session.execute(
                insert(Volunteer),
                [
                    {
                        "volunteer_no": f"KB{n:010d}",
                        "openid": f"oBench{n:020d}",
                        "status": ACTIVE,
                        "name": "志愿者",
                        "prefecture_code": "620100",
                        "county_code": "620102",
                        "skills": ["科学普及"],
                        "service_times": ["周末"],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in numbers
                ],
            )
            session.execute(  # notices go to current followers only
                insert(Follower),
                [
                    {"openid": f"oBench{n:020d}", "first_seen_at": now, "last_seen_at": now}
                    for n in numbers
                ],
            )


# -- worker processes -----------------------------------------------------------------------------


def run_workers(
    db: Database, env: dict[str, str], client: redis.Redis, notice_id: int, workers: int
) -> dict[str, Any]:
    """Start `workers` workers, wait until each listens on the queue (their start-up, about
    3 s of CPU each with bytecode compiled anew, is not the sending), queue the notice, and
    wait until it is finished and no job runs; sent rows, their peak RSS and the CPU seconds
    they spent from the queueing to the end."""
    queue = RQNoticeQueue(client, Keys(env["REDIS_PREFIX"]).notice_queue())
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.notices_trace"]
            if "NOTICE_BENCH_TRACE" in env
            else [sys.executable, "-m", "flask", "--app", "app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    logged: list[str] = []  # the workers' lines about pacing (with LOG_LEVEL=INFO)
    drains = [threading.Thread(target=_drain, args=(p, logged)) for p in processes]
    for thread in drains:
        thread.start()
    try:
        deadline = time.monotonic() + 300
        while queue.workers() < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        cpu = sum(cpu_seconds(p.pid) for p in processes)
        queue.enqueue(notice_id, copies=workers)
        peaks = [0] * workers
        while True:
            for n, process in enumerate(processes):
                peaks[n] = max(peaks[n], peak_rss_kib(process.pid))
            with db.Session() as session:
                status = session.scalar(select(Notice.status).where(Notice.id == notice_id))
            if (
                status not in ("queued", "sending")
                and queue.queue.count == 0
                and queue.queue.started_job_registry.count == 0
            ):
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker stopped")
            time.sleep(0.2)
        cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu
    finally:
        for process in processes:
            process.terminate()  # RQ's warm shutdown: the worker is idle by now
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in drains:
            thread.join()
    with db.Session() as session:
        sent = session.scalar(
            select(func.count()).where(
                NoticeRecipient.notice_id == notice_id, NoticeRecipient.status == R_SENT
            )
        )
    return {
        "sent": int(sent or 0),
        "peak_mib": max(peaks) / 1024,
        "status": status,
        "cpu": cpu,
        "pacing": logged,
    }


def _drain(process: subprocess.Popen[bytes], logged: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        text = line.decode(errors="replace").strip()
        if "pacing:" in text:
            logged.append(text.split("pacing:", 1)[1].strip())


def peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
