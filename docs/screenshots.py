"""Regenerate the screenshots of the docs from the running demo, so that docs/_static is never stale.

Run from the repository root (needs playwright and Chromium, as the browser tests do)::

    python docs/screenshots.py            # writes docs/_static/*.png
    CHROMIUM_PATH=/path/to/chrome python docs/screenshots.py

It serves the example project under uvicorn on a temporary SQLite database
with its demo data, signs ana and bruno in, has ana ask bruno for a job (a
live toast in bruno's page), and shoots: the inbox in light and dark, the
inbox at 390 px, the toast, and the history page.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "_static"
PASSWORD = "demo12345"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the demo server did not listen on {port} within {timeout} s")


async def log_in(browser, base: str, username: str, **context_options):
    context = await browser.new_context(**context_options)
    page = await context.new_page()
    await page.goto(f"{base}/login/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    async with page.expect_navigation(url=f"{base}/"):
        await page.click("main form[action='/login/'] button[type=submit]")
    await page.wait_for_function("() => window.notificationWS && window.notificationWS.connected", timeout=10_000)
    return page


async def open_inbox(page) -> None:
    await page.click(".live-notify-inbox__bell")
    await page.wait_for_selector(".live-notify-inbox__item", timeout=10_000)
    await page.wait_for_timeout(300)


async def shoot(base: str) -> list[Path]:
    from playwright.async_api import async_playwright

    written = []

    async def save(page, name: str, **options) -> None:
        path = OUT / name
        await page.screenshot(path=str(path), **options)
        written.append(path)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        desktop = {"viewport": {"width": 1100, "height": 640}}
        bruno = await log_in(browser, base, "bruno", **desktop)
        ana = await log_in(browser, base, "ana", **desktop)
        await ana.select_option("#id_provider", label="Bruno Costa")
        await ana.fill("#id_title", "Fix the kitchen sink")
        await ana.fill("#id_description", "It drips all night. Tuesday morning?")
        await ana.click("form[action$='/requests/new/'] button[type=submit]")
        toast = await bruno.wait_for_selector(".live-notify-toast", timeout=10_000)
        box = await toast.bounding_box()
        await save(
            bruno,
            "toast.png",
            clip={"x": box["x"] - 16, "y": box["y"] - 16, "width": box["width"] + 32, "height": box["height"] + 32},
        )
        await bruno.keyboard.press("Tab")
        await bruno.evaluate(
            "() => document.querySelectorAll('.live-notify-toast').forEach((toast) => toast.remove())"
        )

        await open_inbox(bruno)
        panel = await bruno.query_selector(".live-notify-inbox__panel")
        box = await panel.bounding_box()
        clip = {"x": box["x"] - 24, "y": 0, "width": box["width"] + 48, "height": box["y"] + box["height"] + 24}
        await save(bruno, "inbox-light.png", clip=clip)

        dark = await log_in(browser, base, "bruno", color_scheme="dark", **desktop)
        await open_inbox(dark)
        await save(dark, "inbox-dark.png", clip=clip)

        mobile = await log_in(
            browser, base, "bruno", viewport={"width": 390, "height": 760}, device_scale_factor=1, is_mobile=True
        )
        await open_inbox(mobile)
        await save(mobile, "inbox-mobile.png")

        await bruno.goto(f"{base}/notifications/")
        await save(bruno, "history.png")
        await browser.close()
    return written


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_PATH": str(Path(tmp) / "db.sqlite3"),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        manage = [sys.executable, str(ROOT / "example_project" / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "demo_data"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "example_project.asgi:application", "--port", str(port)]
        server = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env=env)
        try:
            wait_for_port(port, server)
            written = asyncio.run(shoot(f"http://127.0.0.1:{port}"))
        finally:
            server.terminate()
            server.wait(10)
    for path in written:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
