"""Memory of building a notice's recipients: `notices.prepare` for an audience of about 100,000
and for everyone (about 900,000 at scale 1), each in a fresh process, with the process's RSS
before and its peak after, and the composer's count of the same audience
(`notices.count_recipients`, from the counters) against the rows built. Used by
bench/console_pages.py --audience; the notices it makes are deleted again (their recipient
rows in batches).

    .venv/bin/python bench/console_audience.py --db kjzy_scale
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, func, insert, select  # noqa: E402

from bench.seed_data import PII_KEY, SERVER, database_url, settings_for  # noqa: E402
from config import Settings  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.notice import QUEUED, Notice, NoticeRecipient  # noqa: E402

AUDIENCES = (
    ("天水市 (about 100k)", {"region": "620500"}),
    ("周末 (service time)", {"service_times": ["周末"]}),
    ("everyone (about 900k)", {}),
)


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(url: str, notice_id: int) -> None:
    """In a fresh process: prepare the notice, print what it cost."""
    from infra.db import Database
    from services import notices
    from services.operators import Scope

    db = Database(settings_for(url, PII_KEY))
    with db.Session() as session:
        found = session.get(Notice, notice_id)
        assert found is not None
        counted = notices.count_recipients(
            session, Scope(), notices.Audience.from_json(found.audience)
        )
    before = rss_kb()
    started = time.perf_counter()
    with db.Session.begin() as session:
        assert notices.prepare(session, notice_id)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": seconds, "rss_before_kb": before, "peak_kb": peak, "counted": counted}
        )
    )


def _notice(engine: Any, audience: dict[str, Any]) -> int:
    full = {"region": None, "team_id": None, "skills": [], "service_times": [], **audience}
    now = utcnow()
    with engine.begin() as conn:
        template = conn.execute(select(Notice.template_id).limit(1)).scalar() or 1
        return int(
            conn.execute(
                insert(Notice).values(
                    template_id=template,
                    data={"thing1": "测试"},
                    audience=full,
                    audience_text="bench",
                    status=QUEUED,
                    created_at=now,
                    updated_at=now,
                    queued_at=now,
                )
            ).inserted_primary_key[0]
        )


def _drop(engine: Any, notice_id: int) -> None:
    while True:
        with engine.begin() as conn:
            ids = (
                conn.execute(
                    select(NoticeRecipient.id)
                    .where(NoticeRecipient.notice_id == notice_id)
                    .limit(50_000)
                )
                .scalars()
                .all()
            )
            if not ids:
                conn.execute(delete(Notice).where(Notice.id == notice_id))
                return
            conn.execute(delete(NoticeRecipient).where(NoticeRecipient.id.in_(ids)))


def measure(url: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    engine = create_engine(url)
    results = []
    print("\nBuilding recipient rows (notices.prepare) in a fresh process:")
    for label, audience in AUDIENCES:
        notice_id = _notice(engine, audience)
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, str(notice_id)],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            figures = json.loads(out.strip().splitlines()[-1])
            with engine.connect() as conn:
                count = conn.execute(
                    select(func.count()).where(NoticeRecipient.notice_id == notice_id)
                ).scalar()
            figures.update(label=label, recipients=int(count or 0))
            results.append(figures)
            print(
                f"  {label:<24} {figures['recipients']:>9,} recipients  "
                f"{figures['seconds']:6.1f} s  RSS before {figures['rss_before_kb'] / 1024:6.1f} MiB"
                f"  peak {figures['peak_kb'] / 1024:6.1f} MiB  composer's count "
                f"{figures['counted']:,} ({'equal' if figures['counted'] == figures['recipients'] else 'DIFFERENT'})",
                flush=True,
            )
        finally:
            _drop(engine, notice_id)
    engine.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="kjzy_scale")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--child", nargs=2, metavar=("URL", "NOTICE_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    measure(database_url(args.server, args.db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
