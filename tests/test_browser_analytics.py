"""Headless Chromium and analytics: real toasts and inbox items record delivered, seen and clicked once each.

The example project runs under uvicorn on Redis; notifications come from another process, and the times are read
back from the database by another process too. The frames the pages send are watched on their sockets.
"""

import asyncio
import json

import pytest
import pytest_asyncio

from tests.browser_support import (
    RECORD_EVENTS,
    ExampleSite,
    log_in,
    require_chromium,
    wait_until_live,
)

require_chromium()

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

SEND = """
import json
from django.contrib.auth import get_user_model
from django_live_notify import notify
user = get_user_model().objects.get(username={username!r})
print(json.dumps(notify(user, title={title!r}, url="/notifications/", notification_type="order").pk))
"""
TIMES = """
import json
from django_live_notify.models import Notification
row = Notification.objects.get(pk={pk})
print(json.dumps({{name: str(getattr(row, name)) for name in ("delivered_at", "seen_at", "clicked_at")}}))
"""
REPORTS = ("ack", "mark_seen", "clicked")


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_url):
    example = ExampleSite(tmp_path_factory.mktemp("analytics"), redis_url)
    example.manage("migrate", "--noinput", "-v0")
    example.manage("demo_data")
    try:
        example.uvicorn = example.server("uvicorn")
        yield example
    finally:
        example.stop_all()


@pytest_asyncio.fixture(loop_scope="module")
async def bruno(browser, site):
    """Return a factory of live tabs of bruno, all in one browser context (one window, one session)."""
    context = await browser.new_context(viewport={"width": 1100, "height": 700})
    context.set_default_timeout(10_000)
    await log_in(context, site.uvicorn.url, "bruno")
    await context.add_init_script(RECORD_EVENTS)
    sent: dict = {}

    async def open_tab():
        page = await context.new_page()
        frames = sent[page] = []

        def watch(socket):
            socket.on("framesent", lambda payload: frames.append(json.loads(payload)))

        page.on("websocket", watch)
        await page.goto(site.uvicorn.url + "/")
        await wait_until_live(page)
        return page

    open_tab.sent = sent
    yield open_tab
    await context.close()


async def send(site, title):
    output = await asyncio.to_thread(site.manage, "shell", "-v0", "-c", SEND.format(username="bruno", title=title))
    return json.loads(output.strip().splitlines()[-1])


async def times(site, pk):
    output = await asyncio.to_thread(site.manage, "shell", "-v0", "-c", TIMES.format(pk=pk))
    return json.loads(output.strip().splitlines()[-1])


async def wait_for_times(site, pk, *names, timeout=10):
    """Poll the row until ``names`` are all set; return its times."""
    for _ in range(int(timeout * 4)):
        values = await times(site, pk)
        if all(values[name] != "None" for name in names):
            return values
        await asyncio.sleep(0.25)
    raise AssertionError(f"{names} of notification {pk} still unset after {timeout} s: {values}")


def reported(frames, kind, pk):
    """Return how many frames of ``kind`` named ``pk``."""
    return sum(1 for frame in frames if frame.get("type") == kind and pk in frame.get("ids", []))


async def test_toasts_in_two_tabs_record_delivered_seen_and_clicked_once(site, bruno):
    first, second = await bruno(), await bruno()
    # Toasts stay until clicked: the test outlasts the default 6 s.
    for page in (first, second):
        await page.evaluate("() => { window.notificationWS.options.toastTimeout = 0; }")

    pk = await send(site, "Toasted in two tabs")

    for page in (first, second):
        await page.wait_for_selector(f".live-notify-toast[data-id='{pk}']")
    recorded = await wait_for_times(site, pk, "delivered_at", "seen_at")
    assert recorded["clicked_at"] == "None"
    # Each tab reports once; the first report to arrive is the one kept.
    await asyncio.sleep(0.6)
    for page in (first, second):
        frames = bruno.sent[page]
        assert (reported(frames, "ack", pk), reported(frames, "mark_seen", pk)) == (1, 1), frames
    assert await times(site, pk) == recorded

    async with second.expect_navigation(url=f"{site.uvicorn.url}/notifications/"):
        await second.click(f".live-notify-toast[data-id='{pk}'] .live-notify-toast__body")
    clicked = await wait_for_times(site, pk, "clicked_at")
    assert reported(bruno.sent[second], "clicked", pk) == 1
    assert {name: clicked[name] for name in ("delivered_at", "seen_at")} == {
        name: recorded[name] for name in ("delivered_at", "seen_at")
    }

    # A later click in the other tab is reported too, and changes nothing.
    async with first.expect_navigation(url=f"{site.uvicorn.url}/notifications/"):
        await first.click(f".live-notify-toast[data-id='{pk}'] .live-notify-toast__body")
    await asyncio.sleep(0.6)
    assert reported(bruno.sent[first], "clicked", pk) == 1
    assert await times(site, pk) == clicked


async def test_an_inbox_item_records_delivered_seen_and_clicked(site, bruno):
    page = await bruno()
    await page.click(".live-notify-inbox__bell")
    await page.wait_for_selector(".live-notify-inbox__panel:not([hidden])")
    await page.wait_for_function("() => window.notificationInbox.loaded")
    # Toasts off: the inbox alone shows it.
    await page.evaluate("() => { window.notificationWS.options.toasts = false; }")

    pk = await send(site, "Only in the inbox")

    item = page.locator(f'.live-notify-inbox__item[data-id="{pk}"]')
    await item.wait_for()
    recorded = await wait_for_times(site, pk, "delivered_at", "seen_at")
    assert recorded["clicked_at"] == "None"
    assert reported(bruno.sent[page], "mark_seen", pk) == 0  # the inbox marked it seen over HTTP
    async with page.expect_navigation(url=f"{site.uvicorn.url}/notifications/"):
        await item.locator("a").first.click()
    clicked = await wait_for_times(site, pk, "clicked_at")
    assert reported(bruno.sent[page], "clicked", pk) == 1
    assert clicked["delivered_at"] == recorded["delivered_at"]
