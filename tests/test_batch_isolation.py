"""One bad item fails alone: a failing batch query is retried so that only the bad item's caller fails."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from django.test import override_settings

from django_live_notify.auth import authenticate, session_key_allowed
from django_live_notify.batching import Batcher
from tests.conftest import make_user, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

# What a client sends as `sessionid="\000aaaa..."`: Django's cookie parser decodes the octal escape to a NUL byte.
POISONED_COOKIE = b'sessionid="\\000' + b"a" * 31 + b'"'
GOOD_HANDSHAKES = 18
ROUNDS = 5


def users_exist(pks):
    """Tell for each primary key whether a user has it, with one ORM query for all of them."""
    found = set(get_user_model().objects.filter(pk__in=pks).values_list("pk", flat=True))
    return [pk in found for pk in pks]


async def test_an_item_whose_query_raises_fails_alone():
    ana = await sync_to_async(make_user)("ana")
    batcher = Batcher(users_exist)
    # "not a number" makes the ORM raise while building the query, on every database.
    items = [ana.pk, "not a number", ana.pk + 1000]
    results = await asyncio.gather(*(batcher(item) for item in items), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert results[0] is True and results[2] is False


async def test_an_unreachable_database_fails_the_whole_batch_without_retries():
    calls = []

    def down(items):
        calls.append(items)
        raise OperationalError("connection refused")

    batcher = Batcher(down)
    results = await asyncio.gather(*(batcher(item) for item in range(8)), return_exceptions=True)
    assert all(isinstance(result, OperationalError) for result in results)
    assert calls == [list(range(8))]


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        (None, True),
        ("a" * 32, True),
        ("abcdefgh", True),
        ("a" * 40, True),
        ("a" * 7, False),
        ("a" * 41, False),
        ("\x00" + "a" * 31, False),
        ("A" * 32, False),
        ("a" * 31 + "'", False),
    ],
)
def test_session_keys_must_have_djangos_format(key, allowed):
    assert session_key_allowed(key) is allowed


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
def test_signed_cookie_sessions_keep_their_own_key_format():
    assert session_key_allowed("eyJhIjoxfQ:1abcde:signature-with-UPPER_case")


async def test_a_malformed_session_key_is_anonymous_without_a_query(count_sql):
    executed = count_sql()
    session, user = await authenticate("\x00" + "a" * 31)
    assert not user.is_authenticated and session.session_key is None
    assert executed == []


async def test_a_poisoned_handshake_fails_no_good_one():
    """18 good handshakes and one with a NUL-byte cookie, at once, 5 rounds: every good one authenticates."""
    from channels.testing import WebsocketCommunicator

    from tests.asgi import application

    users = [await sync_to_async(make_user)(f"user{number}") for number in range(GOOD_HANDSHAKES)]
    cookies = [await sync_to_async(session_cookie)(user) for user in users]
    failures = 0
    for _round in range(ROUNDS):
        sockets = [
            WebsocketCommunicator(
                application,
                "/ws/notifications/",
                headers=[
                    (b"host", b"testserver"),
                    (b"origin", b"http://testserver"),
                    (b"cookie", f"sessionid={cookie}".encode()),
                ],
            )
            for cookie in cookies
        ]
        poisoned_headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", POISONED_COOKIE)]
        poisoned = WebsocketCommunicator(application, "/ws/notifications/", headers=poisoned_headers)
        everyone = [poisoned, *sockets]
        # Connected together, so that their session lookups share batches.
        await asyncio.gather(*(socket.connect(5) for socket in everyone))
        for socket in sockets:
            await socket.send_json_to({"type": "heartbeat"})
            frame = await socket.receive_output(5)
            failures += frame != {"type": "websocket.send", "text": '{"type":"heartbeat_ack"}'}
        assert (await poisoned.receive_output(5))["code"] == 4001
        for socket in everyone:
            await socket.disconnect()
    assert failures == 0


def postgresql_only():
    if connection.vendor != "postgresql":
        message = (
            f"needs PostgreSQL, which refuses a NUL byte in a query (this run uses {connection.vendor}); "
            "set LIVE_NOTIFY_TEST_DATABASE_URL=postgres://..."
        )
        print(f"SKIPPED: {message}")
        pytest.skip(message)


def session_rows(keys):
    """Look sessions up the way the socket authentication does: one query for the whole batch."""
    rows = dict(Session.objects.filter(session_key__in=keys).values_list("session_key", "expire_date"))
    return [key in rows for key in keys]


async def test_on_postgresql_a_nul_byte_fails_only_its_own_item_of_a_batch_query():
    await sync_to_async(postgresql_only)()
    users = [await sync_to_async(make_user)(f"user{number}") for number in range(GOOD_HANDSHAKES)]
    keys = [await sync_to_async(session_cookie)(user) for user in users]
    batcher = Batcher(session_rows)
    failures = 0
    for round_number in range(ROUNDS):
        items = list(keys)
        items.insert(round_number * 3, "\x00" + "a" * 31)
        results = await asyncio.gather(*(batcher(key) for key in items), return_exceptions=True)
        bad = results.pop(round_number * 3)
        assert type(bad).__name__ == "DataError", bad
        failures += sum(result is not True for result in results)
    assert failures == 0
