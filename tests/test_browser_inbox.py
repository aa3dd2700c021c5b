"""Headless Chromium and the inbox: two tabs of one user, the keyboard alone, a 390 px phone, and axe-core.

The example project runs under uvicorn on Redis; notifications come from its
own UI or from another process. axe-core (tests/browser/package.json, installed
with ``npm ci --prefix tests/browser``) is injected into the pages: the inbox,
the toasts, the history page and the preferences page, light and dark, must
have no violations, on the demo and on the app's own pages with no host CSS.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from tests.browser_support import (
    RECORD_EVENTS,
    ExampleSite,
    badge_count,
    require_chromium,
    wait_for_badge,
    wait_until_live,
)
from tests.servers import ROOT, AsgiServer, create_sessions, live_database_in, live_env, manage, skip_or_fail

require_chromium()

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SEND = """
import json
from django.contrib.auth import get_user_model
from django_live_notify import notify
user = get_user_model().objects.get(username={username!r})
print(json.dumps([notify(user, title=title, notification_type="order").pk for title in {titles!r}]))
"""
SEND_TO_FIRST_USER = """
from django.contrib.auth import get_user_model
from django_live_notify import notify
notify(get_user_model().objects.order_by("pk").first(), title="For the bell")
"""
ITEM = ".live-notify-inbox__item"
UNREAD = "(id) => document.querySelector(`[data-id='${id}']`).classList.contains('live-notify-inbox__item--unread')"


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_url):
    example = ExampleSite(tmp_path_factory.mktemp("inbox"), redis_url)
    example.manage("migrate", "--noinput", "-v0")
    example.manage("demo_data")
    try:
        example.uvicorn = example.server("uvicorn")
        yield example
    finally:
        example.stop_all()


@pytest_asyncio.fixture(loop_scope="module")
async def tab(browser, sessions, site):
    """Return a factory of live pages of the demo's dashboard (a new context each: another window)."""
    contexts = []

    async def factory(username, path="/", **options):
        options.setdefault("viewport", {"width": 1100, "height": 700})
        context = await browser.new_context(storage_state=sessions[username], **options)
        context.set_default_timeout(10_000)
        await context.add_init_script(RECORD_EVENTS)
        contexts.append(context)
        page = await context.new_page()
        await page.goto(site.uvicorn.url + path)
        await wait_until_live(page)
        return page

    yield factory
    for context in contexts:
        await context.close()


async def send(site, username, *titles):
    code = SEND.format(username=username, titles=list(titles))
    output = await asyncio.to_thread(site.manage, "shell", "-v0", "-c", code)
    return json.loads(output.strip().splitlines()[-1])


async def open_inbox(page):
    await page.click(".live-notify-inbox__bell")
    await page.wait_for_selector(".live-notify-inbox__panel:not([hidden])")
    await page.wait_for_function("() => window.notificationInbox.loaded")


def item(page, notification_id):
    return page.locator(f'{ITEM}[data-id="{notification_id}"]')


async def unseen_badge(page):
    return await page.get_attribute("[data-live-notify-unseen]", "data-count")


async def test_two_tabs_share_seen_read_archive_and_snooze(site, tab):
    first, second = await tab("bruno"), await tab("bruno")
    await open_inbox(first)
    await open_inbox(second)

    [new] = await send(site, "bruno", "Pipe inspection moved to 10:00")

    # Inserted live at the top of both open feeds, shown, so seen: the badges drop back to 0.
    for page in (first, second):
        await item(page, new).wait_for()
        assert await page.locator(ITEM).first.get_attribute("data-id") == str(new)
        await page.wait_for_function("() => document.querySelector('[data-live-notify-unseen]').dataset.count === '0'")
    assert "live-notify-inbox__item--unread" in await item(second, new).get_attribute("class")

    await item(first, new).get_by_role("button", name="Mark read: Pipe inspection moved to 10:00").click()
    await second.wait_for_function(f"(id) => !({UNREAD})(id)", arg=new)

    await item(second, new).get_by_role("button", name="Archive: Pipe inspection moved to 10:00").click()
    for page in (first, second):
        await item(page, new).wait_for(state="detached")
    await first.get_by_role("tab", name="Archived").click()
    await item(first, new).wait_for()
    await item(first, new).get_by_role("button", name="Unarchive: Pipe inspection moved to 10:00").click()
    await item(first, new).wait_for(state="detached")
    await first.get_by_role("tab", name="All").click()
    await item(first, new).wait_for()
    await item(second, new).wait_for()  # the other tab got the archived frame with archived=false

    # Snoozed for 3 s from one tab: hidden in both, then back as new in both.
    until = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    await first.evaluate("([id, until]) => window.notificationInbox.snooze(id, until)", [new, until])
    for page in (first, second):
        await item(page, new).wait_for(state="detached")
    for page in (first, second):
        await item(page, new).wait_for(timeout=15_000)
        await page.wait_for_function(UNREAD, arg=new)


async def test_an_action_shows_its_outcome_in_every_tab_and_runs_once(site, tab):
    ana = await tab("ana")
    bruno, other = await tab("bruno"), await tab("bruno")
    await open_inbox(bruno)
    await open_inbox(other)

    await ana.select_option("#id_provider", label="Bruno Costa")
    await ana.fill("#id_title", "Paint the fence")
    await ana.click("form[action='/requests/new/'] button[type=submit]")
    row = bruno.locator(ITEM, has_text="Paint the fence")
    await row.get_by_role("button", name="Accept", exact=True).click()

    await row.locator(".live-notify-outcome", has_text="Accepted").wait_for()
    other_row = other.locator(ITEM, has_text="Paint the fence")
    await other_row.locator(".live-notify-outcome", has_text="Accepted").wait_for()
    assert await other_row.get_by_role("button", name="Accept", exact=True).count() == 0

    notification_id = int(await row.get_attribute("data-id"))
    status = await bruno.evaluate(
        """async (id) => (await fetch(`/notifications/${id}/actions/accept_request/`, {method: 'POST', headers: {
             'X-CSRFToken': window.notificationInbox.config.csrfToken, Accept: 'application/json'}})).status""",
        notification_id,
    )
    assert status == 409
    await bruno.goto(site.uvicorn.url + "/notifications/")
    history_row = bruno.locator(f"#live-notify-{notification_id}")
    assert await history_row.locator(".live-notify-item__outcome").text_content() == "Accepted"
    assert await history_row.get_by_role("button", name="Accept", exact=True).count() == 0


# The feed's own "Mark read", not a toast's: toasts of the same notifications may be on the page too.
IN_FEED_MARK_READ = (
    "() => document.activeElement.textContent === 'Mark read'"
    " && !!document.activeElement.closest('.live-notify-inbox__panel')"
)


async def test_the_inbox_works_from_the_keyboard_alone(site, tab):
    page = await tab("bruno")
    await send(site, "bruno", "Keyboard one", "Keyboard two")
    await page.focus(".live-notify-inbox__bell")

    await page.keyboard.press("Enter")

    await page.wait_for_function("() => window.notificationInbox.loaded")
    assert await page.evaluate("() => document.activeElement.getAttribute('role')") == "tab"
    await page.keyboard.press("ArrowLeft")
    assert await page.evaluate("() => document.activeElement.dataset.tab") == "unread"
    await page.wait_for_selector(ITEM)
    # Tab into the feed and reach a row's buttons.
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate(IN_FEED_MARK_READ):
            break
    assert await page.evaluate(IN_FEED_MARK_READ)
    focused_row = await page.evaluate("() => document.activeElement.closest('[data-id]').dataset.id")
    # A notification that arrives while the user tabs through the feed re-renders it: focus stays where it was.
    [arrived] = await send(site, "bruno", "Keyboard three")
    await page.wait_for_selector(f"{ITEM}[data-id='{arrived}']")
    assert await page.evaluate(IN_FEED_MARK_READ)
    assert await page.evaluate("() => document.activeElement.closest('[data-id]').dataset.id") == focused_row
    count = await page.locator(ITEM).count()
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "(count) => document.querySelectorAll('.live-notify-inbox__item').length < count", arg=count
    )

    await page.keyboard.press("Escape")

    assert await page.locator(".live-notify-inbox__panel").is_hidden()
    assert await page.evaluate("() => document.activeElement.classList.contains('live-notify-inbox__bell')")
    assert await page.get_attribute(".live-notify-inbox__bell", "aria-expanded") == "false"


async def test_an_open_snooze_form_stays_open_and_focused_when_news_arrives(site, tab):
    page = await tab("bruno")
    [first] = await send(site, "bruno", "Snooze me later")
    await open_inbox(page)
    await item(page, first).locator("button", has_text="Snooze").first.click()
    field = item(page, first).locator(".live-notify-inbox__snooze-input")
    await field.focus()

    [second] = await send(site, "bruno", "News while choosing")
    await page.wait_for_selector(f"{ITEM}[data-id='{second}']")

    assert await field.is_visible()
    assert await page.evaluate("() => document.activeElement.classList.contains('live-notify-inbox__snooze-input')")
    toggle = item(page, first).locator("[aria-expanded]")
    assert await toggle.get_attribute("aria-expanded") == "true"


async def test_the_unread_summary_and_the_bells_label_stay_whole_phrases_as_the_counts_change(site, tab):
    page = await tab("ana")
    summary = "[data-live-notify-unread-summary] [data-live-notify-inbox-unread]"
    unread = int(await page.get_attribute(summary, "data-count"))

    await send(site, "ana", "One more for the summary", "And another")

    # The live client's count reaches the summary through the inbox, its one writer (tests/js/pages.test.js).
    await page.wait_for_function(
        "([selector, wanted]) => document.querySelector(selector).textContent === wanted",
        arg=[summary, f"{unread + 2} unread"],
    )
    # The unseen count rises with each arrival and falls as the toasts are seen; the label follows it.
    unseen, label = await page.evaluate(
        "() => [Number(document.querySelector('[data-live-notify-unseen]').dataset.count),"
        " document.querySelector('.live-notify-inbox__bell').getAttribute('aria-label')]"
    )
    assert label == (f"Notifications, {unseen} new" if unseen else "Notifications")
    await page.get_by_role("button", name=label).wait_for()


async def test_escape_dismisses_a_focused_toast(site, tab):
    page = await tab("bruno")
    await send(site, "bruno", "Dismiss me")
    toast = page.locator(".live-notify-toast", has_text="Dismiss me")
    await toast.locator(".live-notify-toast__dismiss").focus()
    await page.keyboard.press("Escape")
    await toast.wait_for(state="detached")


async def test_at_390_px_nothing_overflows_and_the_toast_and_inbox_are_on_screen(site, tab):
    page = await tab("bruno", viewport={"width": 390, "height": 760}, is_mobile=True)
    await send(site, "bruno", "A toast on a phone")
    toast = await page.wait_for_selector(".live-notify-toast")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390
    box = await toast.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 760
    await open_inbox(page)
    panel = await page.locator(".live-notify-inbox__panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390


# --------------------------------------------------------------------------- axe-core


async def axe_violations(page, include=None):
    if not AXE.exists():
        skip_or_fail(f"{AXE.relative_to(ROOT)} is missing: run `npm ci --prefix tests/browser`")
    if not await page.evaluate("() => Boolean(window.axe)"):
        await page.add_script_tag(path=str(AXE))
    context = {"include": include} if include else "document"
    result = await page.evaluate(
        "async (context) => (await axe.run(context === 'document' ? document : context)).violations"
        ".map((v) => ({id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))",
        context,
    )
    return result


# The demo's own chrome (its nav, cards) is not this app's: check the app's parts of it.
APP_PARTS = [[".live-notify-inbox"], ["#live-notify-toasts"], [".live-notify-history"], [".live-notify-preferences"]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_nothing_on_the_demos_inbox_toasts_history_and_preferences(site, tab, scheme):
    page = await tab("bruno", color_scheme=scheme)
    await send(site, "bruno", f"Axe {scheme}")
    await page.wait_for_selector(".live-notify-toast")
    await open_inbox(page)
    await page.locator(".live-notify-inbox__controls button", has_text="Snooze").first.click()
    assert await axe_violations(page, [[".live-notify-inbox"], ["#live-notify-toasts"]]) == []
    for path in ("/notifications/", "/notifications/preferences/"):
        await page.goto(site.uvicorn.url + path)
        present = [part for part in APP_PARTS if await page.locator(part[0]).count()]
        assert await axe_violations(page, present) == [], path


@pytest.fixture(scope="module")
def bare(tmp_path_factory, redis_url):
    """The app's own pages with no host CSS (tests.settings_live): its base.html, stylesheet and inbox."""
    env = live_env(live_database_in(tmp_path_factory.mktemp("bare")), redis_url)
    manage(env, "migrate", "-v0")
    [(_user_pk, session_key, _)] = create_sessions(env, 1)
    server = AsgiServer("uvicorn", env, module="tests.asgi_static:application")
    server.start()
    try:
        yield env, server, session_key
    finally:
        server.stop()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_nothing_on_the_apps_own_pages_with_no_host_css(bare, browser, scheme):
    _env, server, session_key = bare
    context = await browser.new_context(color_scheme=scheme, viewport={"width": 1000, "height": 700})
    try:
        await context.add_cookies([{"name": "sessionid", "value": session_key, "url": server.url}])
        await context.add_init_script(RECORD_EVENTS)
        page = await context.new_page()
        for path in ("/notifications/", "/notifications/preferences/"):
            await page.goto(server.url + path)
            await wait_until_live(page)
            await page.evaluate(
                "() => window.notificationWS.showToast({id: 999999, title: 'A toast', message: 'Hello',"
                " actions: [{label: 'Open', url: '/notifications/', method: 'GET'}]})"
            )
            await open_inbox(page)
            background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(21, 27, 35)")
            assert await axe_violations(page) == [], path
    finally:
        await context.close()


async def test_the_standalone_bell_is_named_by_its_count_in_words_live_and_axe_finds_nothing(bare, browser):
    env, server, session_key = bare
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        await context.add_cookies([{"name": "sessionid", "value": session_key, "url": server.url}])
        await context.add_init_script(RECORD_EVENTS)
        page = await context.new_page()
        await page.goto(server.url + "/badge-page/")
        await wait_until_live(page)
        count = await badge_count(page)
        bell = page.get_by_role("link", name=f"Notifications {count} unread", exact=True)
        await bell.wait_for()
        assert await page.locator(".live-notify-bell .live-notify-badge").inner_text() == str(count)

        await asyncio.to_thread(manage, env, "shell", "-v0", "-c", SEND_TO_FIRST_USER)
        await wait_for_badge(page, count + 1)
        await page.get_by_role("link", name=f"Notifications {count + 1} unread", exact=True).wait_for()
        assert await axe_violations(page, [["nav"]]) == []
    finally:
        await context.close()


async def test_the_axe_lockfile_pins_what_package_json_asks_for():
    package = json.loads(Path(ROOT, "tests", "browser", "package.json").read_text())
    lock = json.loads(Path(ROOT, "tests", "browser", "package-lock.json").read_text())
    assert lock["packages"]["node_modules/axe-core"]["version"] == package["devDependencies"]["axe-core"]
