import asyncio
import os
import threading
import time
import weakref

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.db import ProgrammingError
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper
from django.dispatch import receiver
from django.test import Client, override_settings

from django_live_notify.hub import stop_hubs
from django_live_notify.testing import communicator


def pytest_addoption(parser):
    parser.addoption(
        "--no-tests-ok",
        action="store_true",
        help="exit with 0, not 5, when nothing is selected (tox runs the slow tests as a second selection)",
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` starts two workers per core: most tests wait on sockets, servers, subprocesses and databases.

    Measured on 2 cores: 50 s with one worker per core, 41 s with two (each file stays on one worker).
    """
    return 2 * (os.cpu_count() or 1)


def pytest_configure(config):
    if os.environ.get("REDIS_URL") and getattr(config.option, "numprocesses", None):
        # Each worker's test database numbers its users from 1: on one Redis their groups would be the same.
        raise pytest.UsageError("REDIS_URL is one Redis for every xdist worker: unset it, or run with -n 0")


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and session.config.getoption("no_tests_ok"):
        session.exitstatus = pytest.ExitCode.OK


# Connections opened by threads other than the main one: asgiref's executors, channels' database thread.
thread_connections: weakref.WeakSet = weakref.WeakSet()


@receiver(connection_created)
def remember_thread_connection(sender, connection, **kwargs):
    if threading.current_thread() is not threading.main_thread():
        thread_connections.add(connection)


@pytest.fixture(autouse=True)
def close_thread_connections():
    """Close the connections worker threads opened, so that none outlives its test.

    PostgreSQL and MariaDB keep a connection open until it is closed, and PostgreSQL refuses
    to drop a test database that one is still attached to.
    """
    yield
    for wrapper in list(thread_connections):
        wrapper.inc_thread_sharing()
        try:
            # A query the stopped hub started in its database thread may still be running: wait for it.
            for attempt in range(50):
                try:
                    wrapper.close()
                    break
                except ProgrammingError:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        finally:
            wrapper.dec_thread_sharing()
    thread_connections.clear()


@pytest.fixture(autouse=True)
def clean_channel_layer():
    """Give every test fresh channel layers, and no channel-layer outage left over from another test."""
    from django_live_notify.publish import outage

    outage.started = None
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
async def clean_hub(close_thread_connections):
    """Stop the test loop's hub and close layer connections so nothing outlives its test."""
    yield
    await stop_hubs()
    # Cancelling the hub's tasks leaves a query they started running in asgiref's one thread for sync code:
    # wait for it, or it may still hold a table of SQLite's shared in-memory database when the test's flush runs.
    await sync_to_async(lambda: None, thread_sensitive=True)()
    for backend in list(channel_layers.backends.values()):
        close = getattr(backend, "close_pools", None) or getattr(backend, "flush", None)
        if close is not None and not hasattr(backend, "groups"):
            await close()


@pytest.fixture
def count_sql(monkeypatch):
    """Give a function that starts counting the SQL of every thread, channels' database thread
    included, and returns the list of statements it fills from then on.

    The session setup a new connection runs (MySQL's ``SET SESSION ...``) is not counted.
    """

    def start():
        executed = []
        original = CursorWrapper._execute_with_wrappers

        def counting(self, sql, *args, **kwargs):
            if not sql.startswith("SET "):
                executed.append(sql)
            return original(self, sql, *args, **kwargs)

        monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counting)
        return executed

    return start


def read_broadcasts():
    """Write every user's pending broadcast rows, as any read of them would (see django_live_notify.fanout)."""
    from django_live_notify import fanout
    from django_live_notify.models import PendingBroadcast

    return fanout.materialize(PendingBroadcast.objects.values_list("user_id", flat=True).distinct())


def make_user(username, **extra):
    return get_user_model().objects.create_user(username=username, password="pw", **extra)


@pytest.fixture
def user_factory(db):
    return make_user


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user=None, origin=b"http://testserver", path="/ws/notifications/", expect_open=True):
    """Return ``testing.communicator()`` for ``user`` (anonymous when None) on the project's whole ASGI stack."""
    from tests.asgi import application

    return await communicator(
        user, path, origin=origin.decode() if origin else "", application=application, expect_open=expect_open
    )


async def recover_settled(hub):
    """Run ``hub``'s recovery sweep once over every row stored so far; return how many notifications it sent.

    Called directly instead of waiting for the periodic sweep, whose default interval is 15 s.
    """
    with override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 0.01, "IDLE_TIMEOUT": 60}):
        await asyncio.sleep(0.1)  # older than the sweep's grace
        return await hub.recover()


@pytest.fixture
def live_database(tmp_path):
    """Give a database of the test's own for server processes (tests.servers.LiveDatabase), dropped after."""
    from tests.servers import LiveDatabase

    database = LiveDatabase(tmp_path)
    yield database
    database.drop()


@pytest.fixture(scope="session")
def redis_url():
    """Give the URL of a real Redis: $REDIS_URL or a redis-server started for this test session."""
    from tests.servers import start_redis

    url, server = start_redis()
    yield url
    if server is not None:
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    """Headless Chromium for one test module (the module calls browser_support.require_chromium() first)."""
    from tests.browser_support import chromium_browser

    async with chromium_browser() as browser:
        yield browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sessions(browser, site):
    """Log the demo's ana and bruno in once through the example project's real /login/ form; return their
    storage states for new contexts. Needs a ``site`` fixture that is a browser_support.ExampleSite."""
    from tests.browser_support import log_in

    states = {}
    for username in ("ana", "bruno"):
        context = await browser.new_context()
        try:
            await log_in(context, site.uvicorn.url, username)
            states[username] = await context.storage_state()
        finally:
            await context.close()
    return states
