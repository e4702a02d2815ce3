"""A lean HTTP/1.1 client on asyncio for the hot API call (template sends): keep-alive
connections in a pool, many requests in flight from one thread, bytes in and bytes out.

It speaks only what the WeChat API needs: http and https, a request with a Content-Length body,
and answers with Content-Length, chunked, or read to the end of the connection. requests (through
wechatpy) costs about 0.9 ms of CPU per call and a thread per call in flight; this costs a few
tens of microseconds and no thread, so a worker can keep many sends in flight to a far-away API.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

# Request and status lines and headers together: WeChat's answers have a handful of headers.
MAX_HEAD_BYTES = 64 * 1024


class HTTPError(Exception):
    """No usable answer: the connection failed, the time ran out, or the answer was broken."""


class _StaleConnection(Exception):
    """A kept-alive connection was closed by the server before it answered anything."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncHTTPPool:
    """Keep-alive connections to one origin, at most `max_connections` open at once.

    Use from one event loop. A request that finds a kept-alive connection closed by the server
    before any byte of the answer (a server's idle timeout) is sent again once on a new
    connection: callers send only requests that are safe to repeat (a template send carries a
    client_msg_id, which WeChat does not deliver twice)."""

    def __init__(self, base_url: str, *, max_connections: int, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.https = parts.scheme == "https"
        self.port = parts.port or (443 if self.https else 80)
        self.base_path = parts.path.rstrip("/")
        default_port = 443 if self.https else 80
        self._host_header = self.host if self.port == default_port else f"{self.host}:{self.port}"
        self._ssl = ssl.create_default_context() if self.https else None
        self._timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0  # connections opened so far (tests and the bench read it)

    async def request(
        self, method: str, target: str, body: bytes | None = None, content_type: str = ""
    ) -> Response:
        """`target` is the path (after the base URL's path) with its query string."""
        head = self._head(method, self.base_path + target, body, content_type)
        async with self._slots:
            for attempt in (1, 2):
                reused = attempt == 1 and bool(self._idle)
                try:
                    async with asyncio.timeout(self._timeout):
                        connection = self._idle.pop() if reused else await self._open()
                        try:
                            response, keep = await _exchange(connection, head, body)
                        except BaseException:
                            _close(connection)
                            raise
                except _StaleConnection:
                    if reused and attempt == 1:
                        continue
                    raise HTTPError("the server closed the connection without answering") from None
                except TimeoutError:
                    raise HTTPError(f"no answer within {self._timeout} s") from None
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
                    raise HTTPError(f"{type(error).__name__}: {error}") from error
                except ValueError as error:  # a malformed status line or header
                    raise HTTPError(f"broken answer: {error}") from error
                if keep:
                    self._idle.append(connection)
                else:
                    _close(connection)
                return response
        raise AssertionError("unreachable")

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self._ssl,
            server_hostname=self.host if self._ssl else None,
            limit=MAX_HEAD_BYTES,
        )
        self.opened += 1
        return reader, writer

    def _head(self, method: str, path: str, body: bytes | None, content_type: str) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header}", "Accept: */*"]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
            if content_type:
                lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def close(self) -> None:
        """Close the idle connections (those in use are closed by their requests)."""
        while self._idle:
            _close(self._idle.pop())


async def _exchange(
    connection: _Connection, head: bytes, body: bytes | None
) -> tuple[Response, bool]:
    """Send one request and read its answer; also whether the connection may be used again."""
    reader, writer = connection
    try:
        writer.write(head + body if body else head)
        await writer.drain()
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                raise _StaleConnection from None
            raise
    except (ConnectionResetError, BrokenPipeError):
        raise _StaleConnection from None
    lines = raw.decode("latin-1").split("\r\n")
    version, status_text, *_ = [*lines[0].split(" ", 2), ""]
    status = int(status_text)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection_header = headers.get("connection", "").lower()
    keep = (version == "HTTP/1.1" and connection_header != "close") or (
        version == "HTTP/1.0" and connection_header == "keep-alive"
    )
    if "chunked" in headers.get("transfer-encoding", "").lower():
        data = await _read_chunked(reader)
    elif "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    elif status in (204, 304) or 100 <= status < 200:
        data = b""
    else:  # the answer ends with the connection
        data, keep = await reader.read(), False
    return Response(status, data), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(connection: _Connection) -> None:
    connection[1].close()
