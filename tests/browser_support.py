"""Helpers of the browser tests: Chromium, the example project under a real ASGI server, logins."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT, AsgiServer, LiveDatabase, skip_or_fail

MANAGE = ROOT / "example_project" / "manage.py"
PASSWORD = "demo12345"  # every demo_data user's
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Runs in every page before its own scripts: records the client's CustomEvents with a wall-clock time.
RECORD_EVENTS = """
(() => {
  const events = (window.__liveNotifyEvents = []);
  for (const name of ['connect', 'disconnect', 'notification', 'unread-count', 'read', 'resumed', 'status']) {
    document.addEventListener(`live-notify:${name}`, (event) => {
      events.push({name, at: Date.now(), detail: JSON.parse(JSON.stringify(event.detail ?? null))});
    });
  }
  // The moment a form is submitted, kept across the navigation that follows.
  document.addEventListener('submit', () => sessionStorage.setItem('liveNotifySubmittedAt', String(Date.now())), true);
})();
"""

# True once the client's socket is open and the server answered it (resume or get_unread_count).
SOCKET_READY = """() => {
  const ws = window.notificationWS;
  if (!ws || !ws.connected) return false;
  const events = window.__liveNotifyEvents;
  const connects = events.filter((event) => event.name === 'connect');
  const since = connects.length ? connects[connects.length - 1].at : Infinity;
  return events.some((event) => event.name === 'unread-count' && event.at >= since);
}"""


def chromium_path() -> str:
    """Return where Chromium should be: $CHROMIUM_PATH, else Debian's /usr/bin/chromium."""
    return os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"


def is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def skip_module_or_fail(reason: str) -> None:
    """tests.servers.skip_or_fail() at module level, where pytest.skip() needs allow_module_level."""
    try:
        skip_or_fail(reason)
    except pytest.skip.Exception:
        pytest.skip(reason, allow_module_level=True)


def require_chromium() -> None:
    """Skip the calling test module (fail it in CI) unless Chromium and playwright are there."""
    chromium = chromium_path()
    if not is_executable(chromium):
        skip_module_or_fail(f"chromium not found at {chromium} (set $CHROMIUM_PATH): the browser tests need it")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:  # pragma: no cover
        skip_module_or_fail("playwright is not installed (pip install -r tests/requirements.txt)")


@contextlib.asynccontextmanager
async def chromium_browser() -> AsyncIterator[Any]:
    """Launch headless Chromium through playwright; close it on the way out."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


class ExampleSite:
    """The example project on a database of its own and a real Redis, served by ASGI server processes."""

    def __init__(self, tmp_dir: Path, redis_url: str) -> None:
        self.database = LiveDatabase(tmp_dir)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            **self.database.example_project_env(),
            "REDIS_URL": redis_url,
        }
        self.servers: list[AsgiServer] = []

    def manage(self, *args: str) -> str:
        """Run example_project/manage.py ``args`` in a subprocess; return its stdout."""
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def server(self, kind: str) -> AsgiServer:
        """Start a new ``kind`` (uvicorn or daphne) server; stop_all() stops it."""
        server = AsgiServer(kind, self.env, module="example_project.asgi:application")
        self.servers.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        self.database.drop()


async def log_in(context, base_url: str, username: str):
    """Log ``username`` in through the real /login/ form in a new page of ``context``; return the page."""
    page = await context.new_page()
    await page.goto(f"{base_url}/login/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    async with page.expect_navigation(url=f"{base_url}/"):
        await page.click("main form[action='/login/'] button[type=submit]")
    return page


async def wait_until_live(page, timeout: float = 10_000) -> None:
    """Wait until the page's client is connected and the server has answered it once."""
    await page.wait_for_function(SOCKET_READY, polling=50, timeout=timeout)


async def badge_count(page) -> int:
    return int(await page.get_attribute("[data-live-notify-badge]", "data-count"))


async def wait_for_badge(page, count: int, timeout: float = 5_000) -> None:
    """Wait until every badge of the page shows ``count`` (and is hidden exactly when it is 0).

    A badge with ``data-live-notify-plural`` shows the count in words; the others the bare number.
    """
    await page.wait_for_function(
        """(count) => {
          const badges = Array.from(document.querySelectorAll('[data-live-notify-badge]'));
          return badges.length > 0 && badges.every((badge) =>
            badge.getAttribute('data-count') === String(count) && badge.hidden === (count === 0) &&
            (badge.hasAttribute('data-live-notify-plural')
              ? badge.textContent.split(/\\s+/).includes(String(count))
              : badge.textContent === String(count)));
        }""",
        arg=count,
        polling=50,
        timeout=timeout,
    )


async def events(page, name: str) -> list[dict]:
    """Return the recorded ``live-notify:<name>`` events of the page, oldest first."""
    return await page.evaluate("(name) => window.__liveNotifyEvents.filter((event) => event.name === name)", name)


# Opens the app's socket with whatever cookies the browser sends; resolves with what came back.
PROBE_SOCKET = """(url) => new Promise((resolve) => {
  const result = {opened: false, frames: [], code: null};
  const socket = new WebSocket(url);
  socket.onopen = () => { result.opened = true; socket.send(JSON.stringify({type: 'resume', last_id: 0})); };
  socket.onmessage = (event) => result.frames.push(JSON.parse(event.data).type);
  socket.onclose = (event) => { result.code = event.code; resolve(result); };
  setTimeout(() => socket.close(), 3000);
})"""


class OtherPortPage(BaseHTTPRequestHandler):
    """Serve one blank page: a site on another port of the same host."""

    def do_GET(self):
        body = b"<!doctype html><title>another port</title><p>another site</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
