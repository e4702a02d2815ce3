"""Benchmark complete volunteer registrations through the full stack (about a minute).

    .venv/bin/python bench/registrations.py             # 50 users, 3 rounds
    .venv/bin/python bench/registrations.py --users 20 --rounds 1

Same environment as bench/webhook.py (gunicorn gthread, real MariaDB and Redis, safe mode with
AES, the fake WeChat API). Each simulated user registers as a new follower again and again:
tap 志愿者 → 注册, answer the 12 questions (consent, name, a fresh valid ID number, phone,
education, 市州, 县区, employer skipped, occupation, skills, specialty, times), then 确认 —
14 messages that go through dedup, the per-user lock, the conversation engine (state in Redis,
the ID number encrypted inside it) and, at 确认, one database transaction with the blind-index
uniqueness check. Rounds interleave with the floor handler (parse and echo only), measured in the
same run, and the script prints registrations/s, per-message p50/p99 and the ratio of
registration messages/s to floor messages/s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.webhook import (  # noqa: E402
    APP_ID,
    SCENARIOS,
    TOKEN,
    BenchUser,
    Environment,
    Result,
    ScenarioSpec,
    line,
    measure,
    percentile,
)
from domain.idcard import compute_check_digit  # noqa: E402
from wechat.protocol import Protocol  # noqa: E402

_serial = itertools.count()
_BASE_BIRTH = date(1960, 1, 1)


def fresh_id_number() -> str:
    """A valid, unique (for this run) 18-digit ID number of an adult."""
    n = next(_serial) + os.getpid() % 97 * 1_000_000
    birth = _BASE_BIRTH + timedelta(days=(n // 999) % 14_000)
    first17 = f"620102{birth:%Y%m%d}{n % 999 + 1:03d}"
    return first17 + compute_check_digit(first17)


MESSAGES_PER_REGISTRATION = 14


async def scenario_register(user: BenchUser) -> None:
    user.new_identity()
    await user.click("VOLUNTEER_REGISTER", expect="欢迎注册科技志愿者")
    for text, expect in (
        ("同意", "请输入您的真实姓名"),
        ("张三", "请输入您的18位身份证号"),
        (fresh_id_number(), "请输入您的手机号"),
        ("13812345678", "请选择您的最高学历"),
        ("3", "请选择您所在的市州"),
        ("1", "请选择您所在的县区"),
        ("1", "请输入您的工作单位"),
        ("跳过", "请选择您的职业或身份"),
        ("1", "请选择您的专业领域"),
        ("1 3", "请简要描述您的专长"),
        ("果树栽培", "请选择您方便参加志愿服务的时间"),
        ("周末", "请核对您的注册信息"),
        ("确认", "注册成功"),
    ):
        await user.say(text, expect=expect)


SCENARIOS["register"] = ScenarioSpec(
    scenario_register, "/wechat", "complete registrations, 14 messages each"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)

    environment = Environment(args)
    runs: dict[str, list[Result]] = {"floor": [], "register": []}
    try:
        environment.start()
        protocol = Protocol(TOKEN, APP_ID, environment.aes_key)
        print(
            f"gunicorn gthread {args.workers}x{args.threads}, MariaDB + Redis, safe mode; "
            f"{args.users} users; {args.rounds} rounds of {args.duration:g} s; "
            f"{os.cpu_count()} CPUs shared with the clients"
        )
        for round_number in range(1, args.rounds + 1):
            for name in runs:
                result = measure(environment, name, protocol, args, rate=0.0)
                runs[name].append(result)
                print(f"  round {round_number} " + line(name, [result]))
        floor = statistics.median(r.rate for r in runs["floor"])
        register = statistics.median(r.rate for r in runs["register"])
        latencies = sorted(x for r in runs["register"] for x in r.latencies)
        ratio = statistics.median(
            b.rate / a.rate for a, b in zip(runs["floor"], runs["register"], strict=True) if a.rate
        )
        saved = environment.routed_lines("conversation.volunteer_register")
        print("summary:")
        print(f"  floor      {floor:7.0f} msg/s")
        print(
            f"  register   {register:7.0f} msg/s = "
            f"{register / MESSAGES_PER_REGISTRATION:5.1f} registrations/s; per message "
            f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
        )
        print(f"  ratio register/floor (messages/s, median of rounds): {ratio:.2f}")
        print(f"  conversation messages handled (service log): {saved}")
        errors = sum(r.errors for rs in runs.values() for r in rs)
        if errors:
            first = next(r.first_error for rs in runs.values() for r in rs if r.first_error)
            print(f"  errors: {errors} (first: {first})")
        return 1 if errors else 0
    finally:
        environment.stop()


if __name__ == "__main__":
    sys.exit(main())
