"""Sockets close when their session stops being valid, and per-socket limits hold."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from django_live_notify.hub import get_hub
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


async def logged_in_client(user):
    client = Client()
    await sync_to_async(client.force_login)(user)
    return client


async def socket_for(client, expect_open=True):
    from tests.asgi import application

    key = client.cookies["sessionid"].value
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={key}".encode())]
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    if expect_open:
        await communicator.send_json_to({"type": "heartbeat"})
        assert json.loads(await communicator.receive_from(2)) == {"type": "heartbeat_ack"}
    return communicator


async def closed_with(communicator, timeout=2):
    message = await communicator.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def still_open(communicator):
    await communicator.send_json_to({"type": "heartbeat"})
    return json.loads(await communicator.receive_from(2)) == {"type": "heartbeat_ack"}


async def test_logout_closes_that_session_only():
    ana = await sync_to_async(make_user)("ana")
    laptop, phone = await logged_in_client(ana), await logged_in_client(ana)
    laptop_socket, phone_socket = await socket_for(laptop), await socket_for(phone)
    await sync_to_async(laptop.logout)()
    assert await closed_with(laptop_socket) == 4001
    assert await still_open(phone_socket)
    assert (await get_hub()).stats["closed_signed_out"] == 1
    await phone_socket.disconnect()


async def test_deactivation_closes_every_socket_of_the_user():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    sockets = [await socket_for(await logged_in_client(ana)) for _ in range(2)]
    bob_socket = await socket_for(await logged_in_client(bob))
    ana.is_active = False
    await sync_to_async(ana.save)()
    for socket in sockets:
        assert await closed_with(socket) == 4001
    assert await still_open(bob_socket)
    await bob_socket.disconnect()


async def test_password_change_closes_other_sessions_and_they_cannot_come_back():
    ana = await sync_to_async(make_user)("ana")
    current, other = await logged_in_client(ana), await logged_in_client(ana)
    current_socket, other_socket = await socket_for(current), await socket_for(other)

    def change_password():
        from django.contrib.auth.models import User

        user = User.objects.get(pk=ana.pk)
        user.set_password("new password")
        user.save()
        # What PasswordChangeView does: keep the current session valid.
        session = current.session
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.save()

    await sync_to_async(change_password)()
    assert await closed_with(other_socket) == 4003
    assert await closed_with(current_socket) == 4003
    # 4003 means "reconnect": the current session authenticates again, the other one is anonymous now.
    assert await still_open(await socket_for(current))
    stale = await socket_for(other, expect_open=False)
    assert await closed_with(stale) == 4001


async def test_deleting_the_user_closes_its_sockets():
    ana = await sync_to_async(make_user)("ana")
    socket = await socket_for(await logged_in_client(ana))
    await sync_to_async(ana.delete)()
    assert await closed_with(socket) == 4001


async def test_saving_a_user_for_other_reasons_keeps_sockets():
    ana = await sync_to_async(make_user)("ana")
    socket = await socket_for(await logged_in_client(ana))
    ana.first_name = "Ana"
    await sync_to_async(ana.save)()
    await sync_to_async(Client().force_login)(ana)  # updates last_login
    assert await socket.receive_nothing(0.2)
    assert await still_open(socket)
    await socket.disconnect()


@override_settings(LIVE_NOTIFY={"MAX_CONNECTIONS_PER_USER": 2})
async def test_too_many_sockets_of_one_user_close_the_oldest():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    client = await logged_in_client(ana)
    first, second = await socket_for(client), await socket_for(client)
    bob_socket = await socket_for(await logged_in_client(bob))
    third = await socket_for(client)
    assert await closed_with(first) == 4005
    assert await still_open(second) and await still_open(third) and await still_open(bob_socket)
    assert (await get_hub()).stats["closed_too_many_connections"] == 1
    for socket in (second, third, bob_socket):
        await socket.disconnect()
