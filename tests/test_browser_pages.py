"""Headless Chromium moving between the app's own pages under a real uvicorn with a 2 s heartbeat, on Redis.

What a user sees after reading a notification and going to another page: it
never comes back as new, neither from the server (no frame carries it again)
nor from the client (``onNotification`` never fires for it), while a
notification sent afterwards still arrives exactly once.
"""

import asyncio
import json

import pytest

from tests.browser_support import (
    RECORD_EVENTS,
    events,
    require_chromium,
    wait_until_live,
)
from tests.servers import AsgiServer, create_sessions, live_database_in, live_env, manage

require_chromium()

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

HEARTBEAT = 2.0  # s: the server sweeps every second and recovers rows older than a second
PAGES = ["/notifications/preferences/", "/notifications/", "/notifications/preferences/"]

SEND = """
import json
from django.contrib.auth import get_user_model
from django_live_notify import notify
user = get_user_model().objects.get(pk={pk})
print(json.dumps([notify(user, title=title).pk for title in {titles}]))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_url):
    """tests.settings_live on a SQLite file and Redis, a signed-in user, and one uvicorn serving the static files."""
    env = live_env(live_database_in(tmp_path_factory.mktemp("pages")), redis_url, heartbeat=HEARTBEAT)
    manage(env, "migrate", "-v0")
    [(user_pk, session_key, _)] = create_sessions(env, 1)
    server = AsgiServer("uvicorn", env, module="tests.asgi_static:application")
    server.start()
    try:
        yield env, server, user_pk, session_key
    finally:
        server.stop()


async def send(env, user_pk, *titles):
    """Notify the user from another process (reaching the server through Redis); return the new ids."""
    code = SEND.replace("{pk}", str(user_pk)).replace("{titles}", repr(list(titles)))
    output = await asyncio.to_thread(manage, env, "shell", "-v0", "-c", code)
    return json.loads(output.strip().splitlines()[-1])


def record_frames(page, frames):
    """Append the id of every notification frame any socket of ``page`` receives to ``frames``."""

    def on_frame(payload):
        frame = json.loads(payload) if isinstance(payload, str) else {}
        if frame.get("type") == "notification":
            frames.append(frame["notification"]["id"])

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))


async def notified_ids(page):
    return [event["detail"]["notification"]["id"] for event in await events(page, "notification")]


async def test_read_notifications_never_come_back_on_later_pages(site, browser):
    env, server, user_pk, session_key = site
    context = await browser.new_context()
    try:
        await context.add_cookies([{"name": "sessionid", "value": session_key, "url": server.url}])
        await context.add_init_script(RECORD_EVENTS)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        frames = []
        record_frames(page, frames)
        await page.goto(server.url + "/notifications/")
        await wait_until_live(page)

        read = await send(env, user_pk, "first", "second")
        await page.wait_for_function(
            "(ids) => ids.every((id) => window.__liveNotifyEvents.some("
            "  (event) => event.name === 'notification' && event.detail.notification.id === id))",
            arg=read,
            polling=50,
        )
        for notification_id in read:
            assert await page.evaluate("(id) => window.notificationWS.markAsRead(id)", notification_id) is True
        # The seed notification of create_sessions() is still unread: the inbox's summary says so.
        await page.wait_for_function(
            "() => document.querySelector('[data-live-notify-inbox-unread]').textContent === '1 unread'", polling=50
        )
        assert sorted(frames) == sorted(read)

        # Straight on, as a user clicking a link does: the sweep has not yet passed the rows read.
        for path in PAGES:
            frames.clear()
            await page.goto(server.url + path)
            await wait_until_live(page)
            await asyncio.sleep(2.5 * HEARTBEAT)  # several sweeps
            assert not set(frames) & set(read), f"the server sent read notifications again on {path}"
            assert not set(await notified_ids(page)) & set(read), f"the client showed them again on {path}"
            assert await page.locator(".live-notify-toast").count() == 0

        [new] = await send(env, user_pk, "third")
        await page.wait_for_function(
            "(id) => window.__liveNotifyEvents.some("
            "  (event) => event.name === 'notification' && event.detail.notification.id === id)",
            arg=new,
            polling=50,
        )
        await asyncio.sleep(2.5 * HEARTBEAT)
        assert frames == [new]
        assert await notified_ids(page) == [new]
        assert await page.locator(".live-notify-toast").count() == 1
    finally:
        await context.close()
