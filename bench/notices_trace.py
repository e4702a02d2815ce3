"""A notice worker (`flask --app app worker`) that appends the moment of each template send's
write (time.time(), one line per request written, rejected ones included) to the file named by
NOTICE_BENCH_TRACE: bench/notices.py counts the sends per 1-s window on the workers' side too,
next to the fake's arrival stamps (which a loaded machine delays and bunches on their own).

    NOTICE_BENCH_TRACE=/tmp/writes.txt python -m bench.notices_trace
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wechat import http_async  # noqa: E402


def main() -> None:
    trace = os.open(os.environ["NOTICE_BENCH_TRACE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    exchange = http_async._exchange

    async def traced(
        connection: http_async._Connection, head: bytes, body: bytes | None
    ) -> tuple[http_async.Response, bool]:
        os.write(trace, b"%.6f\n" % time.time())  # just before the request is written
        return await exchange(connection, head, body)

    http_async._exchange = traced
    from flask.cli import main as flask_main

    sys.argv = ["flask", "--app", "app", "worker"]
    flask_main()


if __name__ == "__main__":
    main()
