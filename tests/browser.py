"""Browser tests: Debian's Chromium driven by Playwright for Python, and the app on loopback.

No browser is ever downloaded (`playwright install` is not used): the tests need
/usr/bin/chromium (apt-get install chromium; .ci/apt-packages lists it). Without it they are
skipped with the reason, except under CI=true, where a missing browser fails the run.

    with chromium() as browser, serve(app) as base_url:
        page = browser.new_page()
        page.goto(base_url + "/simulator")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require_chromium() -> None:
    """Skip (or, with CI=true, fail) when the browser or Playwright is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is missing (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the browser tests cannot run: {problem}")
    pytest.skip(problem)


@contextmanager
def chromium() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for what the page shows; a loaded CI machine may take longer than
    # Playwright's 5-second default (a reply that went out late through the API, say).
    expect.set_options(timeout=20_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free loopback port in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
