"""The fake WeChat API on asyncio, for load: the benchmarks run it in a process of its own.

The same app and state as sandbox.fake_wechat (so the same documented API, controls and
recorded calls): the JSON POST APIs (template and customer-service sends, stable_token, menu
and QR code creation) are answered on the event loop, their delay (`/_fake/slow`) an
asyncio.sleep rather than a thread; every other request (GET APIs, /_fake/ controls, web
authorisation pages) goes to the Flask app in a small thread pool. Keep-alive HTTP/1.1.

The threaded development server costs about 0.7 ms of CPU and a thread per call in flight (a
template send with a 20 ms delay holds a thread for 20 ms); this costs about a tenth of that
and no thread, so on the bench's two cores the fake is not what limits the notice workers.

    python -m sandbox.fake_wechat_fast --port 8801
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Flask

from config.settings import SANDBOX_APP_ID, SANDBOX_APP_SECRET
from sandbox.fake_wechat import API_ROUTES, FakeWeChatState, answer_call, create_fake_wechat

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
Answer = tuple[str, list[tuple[str, str]], bytes]  # status line text, headers, body


class FastFakeWeChatServer:
    """`app` is a fake from sandbox.fake_wechat.create_fake_wechat (its state is shared with
    whoever else serves it); port 0 picks a free port. Runs its loop in a background thread."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.state: FakeWeChatState = app.extensions["fake_wechat"]
        self.host = host
        self._port = port
        self._fast = {(r[1], r[0]): r for r in API_ROUTES if r[1] == "POST"}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-wechat-wsgi")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake WeChat server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def listen(self) -> asyncio.Server:
        """Start listening on the running loop (for a process that runs its own loop)."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._serve, self.host, self._port, limit=MAX_HEAD_BYTES, backlog=1024
        )
        return self._server

    def start(self) -> FastFakeWeChatServer:
        if self._thread is None:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(self.listen())
            self._thread = threading.Thread(
                target=loop.run_forever, name="fake-wechat-fast", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None or self._thread is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=5)
        loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._server = self._loop = self._thread = None

    def __enter__(self) -> FastFakeWeChatServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- one connection -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, version = request_line.split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "0")
                if "transfer-encoding" in headers or not length.isdigit():
                    answer: Answer = ("411 LENGTH REQUIRED", [], b"Content-Length required\n")
                    keep = False
                else:
                    if int(length) > MAX_BODY_BYTES:
                        return
                    body = await reader.readexactly(int(length)) if int(length) else b""
                    connection = headers.get("connection", "").lower()
                    keep = (version == "HTTP/1.1" and connection != "close") or (
                        version == "HTTP/1.0" and connection == "keep-alive"
                    )
                    answer = await self._answer(method, target, version, headers, body)
                status, answer_headers, payload = answer
                head_lines = [f"HTTP/1.1 {status}"]
                head_lines += [f"{name}: {value}" for name, value in answer_headers]
                head_lines.append(f"Content-Length: {len(payload)}")
                head_lines.append("Connection: keep-alive" if keep else "Connection: close")
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD":
                    writer.write(payload)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()

    async def _answer(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes
    ) -> Answer:
        path, _, query = target.partition("?")
        route = self._fast.get((method, path))
        if route is None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._pool, self._wsgi, method, path, query, version, headers, body
            )
        received = time.time()
        generation = self.state.generation()
        delay = self.state.delay_for(path)
        if delay > 0:
            await asyncio.sleep(delay)
        args: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            args.setdefault(name, value)
        answer = answer_call(
            self.state, route, args, body.decode("utf-8", "replace"), received, generation
        )
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return "200 OK", [("Content-Type", "application/json")], payload

    def _wsgi(
        self,
        method: str,
        path: str,
        query: str,
        version: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": headers.get("content-type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            if name not in ("content-type", "content-length"):
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[Any] = []

        def start_response(status: str, answer_headers: list[tuple[str, str]], *_: Any) -> Any:
            started[:] = [status, answer_headers]
            return lambda _data: None

        result: Iterable[bytes] = self.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, answer_headers = started
        skip = ("content-length", "connection", "transfer-encoding")
        return status, [(n, v) for n, v in answer_headers if n.lower() not in skip], payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake WeChat API on asyncio (loopback).")
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument("--app-id", default=os.environ.get("WECHAT_APP_ID", SANDBOX_APP_ID))
    parser.add_argument(
        "--app-secret", default=os.environ.get("WECHAT_APP_SECRET", SANDBOX_APP_SECRET)
    )
    args = parser.parse_args(argv)
    server = FastFakeWeChatServer(create_fake_wechat(args.app_id, args.app_secret), port=args.port)

    async def serve() -> None:
        listening = await server.listen()
        print(f"fake WeChat API (asyncio) on {server.url} (app id {args.app_id})", flush=True)
        await listening.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
