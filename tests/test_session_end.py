"""A socket lives no longer than its session: signals close it at once, the sweep's re-check catches the rest."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from django_live_notify import anotify, session_check
from django_live_notify.hub import get_hub
from django_live_notify.tokens import SUBPROTOCOL, make_token
from tests.conftest import make_user
from tests.test_signout import closed_with, logged_in_client, socket_for, still_open

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


def delete_with_sql(user):
    """Delete ``user`` with raw SQL, which sends no post_delete: only the re-check notices."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {User._meta.db_table} WHERE id = %s", [user.pk])


async def recheck():
    """Run the re-check a hub's sweep runs, now; return how many sockets it closed."""
    return await session_check.recheck(await get_hub())


async def token_socket(user):
    from channels.testing import WebsocketCommunicator

    from tests.asgi import application

    token = await sync_to_async(make_token)(user)
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", subprotocols=[SUBPROTOCOL, f"live-notify.token.{token}"]
    )
    connected, _ = await communicator.connect()
    assert connected and await still_open(communicator)
    return communicator


async def two_sessions(username="ana"):
    """Return a user and two of its logged-in clients, each with an open socket."""
    user = await sync_to_async(make_user)(username)
    clients = [await logged_in_client(user) for _ in range(2)]
    return user, clients, [await socket_for(client) for client in clients]


async def assert_gets_notifications(socket, user):
    notification = await anotify(user, title="still yours")
    assert json.loads(await socket.receive_from(2))["notification"]["id"] == notification.pk
    assert json.loads(await socket.receive_from(2))["type"] == "unread_count"


async def test_valid_sessions_survive_the_recheck():
    ana, _clients, sockets = await two_sessions()
    token = await token_socket(ana)
    assert await recheck() == 0
    for socket in [*sockets, token]:
        assert await still_open(socket)
        await socket.disconnect()


@pytest.mark.parametrize("how", ["queryset", "instance"])
async def test_deleting_the_session_row_closes_its_sockets_at_once(how):
    ana, clients, sockets = await two_sessions()
    token = await token_socket(ana)
    key = clients[0].cookies["sessionid"].value
    if how == "queryset":
        await Session.objects.filter(session_key=key).adelete()
    else:
        await (await Session.objects.aget(session_key=key)).adelete()
    # No re-check: the post_delete signal closed it.
    assert await closed_with(sockets[0]) == 4001
    assert await still_open(sockets[1]) and await still_open(token)
    await assert_gets_notifications(sockets[1], ana)
    for socket in (sockets[1], token):
        await socket.disconnect()


async def test_signing_out_everywhere_closes_every_session_socket_but_not_token_sockets():
    ana, _clients, sockets = await two_sessions()
    token = await token_socket(ana)
    await sync_to_async(lambda: Session.objects.filter(expire_date__gt=timezone.now()).delete())()
    assert [await closed_with(socket) for socket in sockets] == [4001, 4001]
    assert await still_open(token)
    await token.disconnect()


async def test_clearing_expired_sessions_sends_no_close():
    _ana, clients, sockets = await two_sessions()
    key = clients[0].cookies["sessionid"].value
    await Session.objects.filter(session_key=key).aupdate(expire_date=timezone.now() - timedelta(seconds=1))
    await Session.objects.filter(expire_date__lte=timezone.now()).adelete()
    assert await sockets[0].receive_nothing(0.2)
    # The expired session's socket is the re-check's business.
    assert await recheck() == 1
    assert await closed_with(sockets[0]) == 4001
    await sockets[1].disconnect()


async def test_an_expired_session_is_closed_by_the_recheck():
    _ana, clients, sockets = await two_sessions()
    key = clients[0].cookies["sessionid"].value
    await Session.objects.filter(session_key=key).aupdate(expire_date=timezone.now() - timedelta(seconds=1))
    assert await sockets[0].receive_nothing(0.1)  # no signal for an expiry
    assert await recheck() == 1
    assert await closed_with(sockets[0]) == 4001
    assert await still_open(sockets[1])
    await sockets[1].disconnect()


async def test_logging_in_as_another_user_over_the_same_session_closes_its_socket():
    _ana, clients, sockets = await two_sessions()
    bob = await sync_to_async(make_user)("bob")
    # login() flushes a session of another user: its row is deleted, and the signal closes the socket.
    await sync_to_async(clients[0].force_login)(bob)
    assert await closed_with(sockets[0]) == 4001
    assert await still_open(sockets[1])
    await sockets[1].disconnect()


async def test_a_session_rewritten_in_place_for_another_user_is_closed_by_the_recheck():
    _ana, clients, sockets = await two_sessions()
    bob = await sync_to_async(make_user)("bob")
    bob_socket = await socket_for(await logged_in_client(bob))

    def rewrite():
        # What code that switches users without login() (and without flushing) leaves behind.
        session = clients[0].session
        session[SESSION_KEY] = str(bob.pk)
        session[HASH_SESSION_KEY] = bob.get_session_auth_hash()
        session.save()

    assert await recheck() == 0  # remembers each session's decoded data
    await sync_to_async(rewrite)()
    assert await sockets[0].receive_nothing(0.1)
    assert await recheck() == 1
    assert await closed_with(sockets[0]) == 4001
    assert await still_open(sockets[1]) and await still_open(bob_socket)
    for socket in (sockets[1], bob_socket):
        await socket.disconnect()


async def test_deactivation_by_update_is_closed_by_the_recheck():
    ana, _clients, sockets = await two_sessions()
    token = await token_socket(ana)
    bob = await sync_to_async(make_user)("bob")
    bob_socket = await socket_for(await logged_in_client(bob))
    await User.objects.filter(pk=ana.pk).aupdate(is_active=False)
    assert await sockets[0].receive_nothing(0.1)
    assert await recheck() == 3
    assert [await closed_with(socket) for socket in [*sockets, token]] == [4001] * 3
    assert await still_open(bob_socket)
    await bob_socket.disconnect()


@pytest.mark.parametrize("how", ["assigned", "update"])
async def test_a_password_set_without_set_password_is_closed_by_the_recheck_with_4003(how):
    ana, clients, sockets = await two_sessions()

    def change_password():
        if how == "assigned":
            user = User.objects.get(pk=ana.pk)
            user.password = make_password("new password")
            user.save()
        else:
            User.objects.filter(pk=ana.pk).update(password=make_password("new password"))

    await sync_to_async(change_password)()
    assert await sockets[0].receive_nothing(0.1)
    assert await recheck() == 2
    assert [await closed_with(socket) for socket in sockets] == [4003, 4003]
    # 4003 means "reconnect": the old sessions no longer authenticate.
    assert await closed_with(await socket_for(clients[0], expect_open=False)) == 4001


async def test_a_token_socket_is_closed_by_the_recheck_once_the_password_changed_without_a_signal():
    ana = await sync_to_async(make_user)("ana")
    old_token = await token_socket(ana)
    await User.objects.filter(pk=ana.pk).aupdate(password=make_password("new password"))
    fresh = await sync_to_async(User.objects.get)(pk=ana.pk)
    new_token = await token_socket(fresh)
    assert await recheck() == 1
    assert await closed_with(old_token) == 4001
    assert await still_open(new_token)
    await new_token.disconnect()


async def test_a_deleted_user_is_closed_by_the_recheck_when_no_signal_was_sent():
    ana, _clients, sockets = await two_sessions()

    await sync_to_async(delete_with_sql)(ana)
    assert await recheck() == 2
    assert [await closed_with(socket) for socket in sockets] == [4001, 4001]


async def test_logout_closes_the_users_token_sockets_issued_before_it():
    ana, clients, sockets = await two_sessions()
    bob = await sync_to_async(make_user)("bob")
    old_token, bob_token = await token_socket(ana), await token_socket(bob)
    await sync_to_async(clients[0].logout)()
    assert await closed_with(sockets[0]) == 4001
    assert await closed_with(old_token) == 4001
    # The other session, tokens issued after the logout and other users' tokens are untouched.
    new_token = await token_socket(ana)
    for socket in (sockets[1], new_token, bob_token):
        assert await still_open(socket)
        await socket.disconnect()


@pytest.mark.parametrize("sockets_per_table", [3, 30])
async def test_the_recheck_costs_one_query_per_table_whatever_the_number_of_sockets(count_sql, sockets_per_table):
    users = [await sync_to_async(make_user)(f"user{number}") for number in range(sockets_per_table)]
    sockets = [await socket_for(await logged_in_client(user)) for user in users]
    executed = count_sql()
    assert await recheck() == 0
    assert len(executed) == 2, executed
    assert "django_session" in executed[0] and "auth_user" in executed[1]
    for socket in sockets:
        await socket.disconnect()


@override_settings(LIVE_NOTIFY={"BATCH_SIZE": 10})
async def test_the_recheck_queries_in_batches_of_batch_size(count_sql):
    users = [await sync_to_async(make_user)(f"user{number}") for number in range(25)]
    sockets = [await socket_for(await logged_in_client(user)) for user in users]
    executed = count_sql()
    assert await recheck() == 0
    assert len(executed) == 3 + 3, executed
    for socket in sockets:
        await socket.disconnect()


async def test_the_recheck_runs_in_slices_and_closes_what_any_slice_finds(count_sql, monkeypatch):
    """Each slice is one call on the database thread, so other calls run between two; all slices are checked."""
    monkeypatch.setattr(session_check, "SLICE", 10)
    users = [await sync_to_async(make_user)(f"user{number}") for number in range(25)]
    clients = [await logged_in_client(user) for user in users]
    sockets = [await socket_for(client) for client in clients]
    expired = [clients[index].cookies["sessionid"].value for index in (0, 24)]
    await Session.objects.filter(session_key__in=expired).aupdate(expire_date=timezone.now() - timedelta(seconds=1))
    executed = count_sql()
    assert await recheck() == 2
    assert len(executed) == 3 * 2, executed  # the sessions and users of 10, 10 and 5 sockets
    for index, socket in enumerate(sockets):
        if index in (0, 24):
            assert await closed_with(socket) == 4001
        else:
            assert await still_open(socket)
            await socket.disconnect()


async def test_the_recheck_decodes_a_session_again_only_when_its_row_changed(monkeypatch):
    _ana, clients, sockets = await two_sessions()
    decoded = []
    store_class = type(session_check.session_store())
    original = store_class.decode
    monkeypatch.setattr(store_class, "decode", lambda self, data: decoded.append(data) or original(self, data))
    session_check._decoded.clear()
    assert await recheck() == 0
    assert len(decoded) == 2
    assert await recheck() == 0
    assert len(decoded) == 2  # unchanged rows: nothing decoded
    await sockets[1].disconnect()
    assert await recheck() == 0
    assert set(session_check._decoded) == {clients[0].cookies["sessionid"].value}  # a closed socket's is forgotten
    await sockets[0].disconnect()


async def test_the_recheck_cache_keeps_the_sockets_own_strings_not_copies():
    """Each cached session costs a digest and a tuple: its user key and auth hash are its socket's strings."""
    _ana, _clients, sockets = await two_sessions()
    session_check._decoded.clear()
    assert await recheck() == 0
    held = [socket for group in (await get_hub()).connections.values() for socket in group]
    assert len(held) == 2
    for socket in held:
        login = session_check._decoded[socket.session_key]
        assert login.user_key is socket.user_key
        assert login.auth_hash is socket.auth_hash
        assert len(login.digest) == 16
    for socket in sockets:
        await socket.disconnect()


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache")
async def test_cache_sessions_are_rechecked_with_one_cache_read_and_no_session_query(count_sql):
    _ana, clients, sockets = await two_sessions()
    executed = count_sql()
    assert await recheck() == 0
    assert len(executed) == 1 and "auth_user" in executed[0], executed
    # A session deleted from the cache sends no signal: the re-check sees it is gone.
    await sync_to_async(lambda: clients[0].session.delete())()
    assert await recheck() == 1
    assert await closed_with(sockets[0]) == 4001
    assert await still_open(sockets[1])
    await sockets[1].disconnect()


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
async def test_signed_cookie_sessions_are_rechecked_for_their_user():
    ana = await sync_to_async(make_user)("ana")
    client = Client()
    await sync_to_async(client.force_login)(ana)
    socket = await socket_for(client)
    assert await recheck() == 0
    await User.objects.filter(pk=ana.pk).aupdate(is_active=False)
    assert await recheck() == 1
    assert await closed_with(socket) == 4001


@override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 0.2, "IDLE_TIMEOUT": 60})
async def test_the_hubs_sweep_runs_the_recheck_every_half_heartbeat():
    _ana, clients, sockets = await two_sessions()
    key = clients[0].cookies["sessionid"].value
    await Session.objects.filter(session_key=key).aupdate(expire_date=timezone.now() - timedelta(seconds=1))
    assert await closed_with(sockets[0], timeout=2) == 4001
    assert await still_open(sockets[1])
    await sockets[1].disconnect()


async def test_a_backend_with_its_own_get_user_decides_for_its_sockets(settings):
    settings.AUTHENTICATION_BACKENDS = ["tests.testapp.backends.TaggingBackend"]
    ana = await sync_to_async(make_user)("ana")
    client = Client()
    await sync_to_async(client.force_login)(ana, backend="tests.testapp.backends.TaggingBackend")
    socket = await socket_for(client)
    # This backend's get_user() gives inactive users too: the handshake would let this socket in again.
    await User.objects.filter(pk=ana.pk).aupdate(is_active=False)
    assert await recheck() == 0
    assert await still_open(socket)
    await sync_to_async(delete_with_sql)(ana)
    assert await recheck() == 1
    assert await closed_with(socket) == 4001


async def test_a_backend_no_longer_configured_closes_its_sockets(settings):
    _ana, _clients, sockets = await two_sessions()
    settings.AUTHENTICATION_BACKENDS = ["tests.testapp.backends.TaggingBackend"]
    assert await recheck() == 2
    assert [await closed_with(socket) for socket in sockets] == [4001, 4001]
