"""What the browser tests share: finding Chromium, its launch arguments, and a local server for a built site.

Used by ``test_browser.py`` (every page of the book) and ``test_explorer.py`` (the depth explorer page).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import pytest

# Headless and quiet: no GPU, no background requests (the tests refuse every request that leaves the site).
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _chromium() -> str | None:
    for candidate in (os.environ.get("COMPANION_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, checked before the (slow) book build so that a missing browser skips at once (fails
    when ``CI`` is set)."""
    path = _chromium()
    if path is None:
        _unavailable("chromium not found: install Debian's chromium (`apt-get install chromium`; `make test` does as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the Python package playwright is not installed (it is in requirements/lock.txt)")
    return path


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    return list(CHROMIUM_ARGS)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(html_dir: Path) -> Iterator[str]:
    """Serve ``html_dir`` on ``http://127.0.0.1:<free port>/`` while the block runs; yields that URL."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def serve_site() -> Callable[[Path], ContextManager[str]]:
    """:func:`serve`, as a fixture: ``with serve_site(html_dir) as base: page.goto(base + "index.html")``."""
    return serve
