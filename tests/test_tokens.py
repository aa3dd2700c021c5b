"""Token sockets: for clients without cookies, checked from the signature alone."""

import json
import time
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client, override_settings

from django_live_notify import anotify
from django_live_notify.tokens import SUBPROTOCOL, make_token
from tests.conftest import make_user, open_socket

pytestmark = pytest.mark.django_db(transaction=True)


async def token_socket(token, how="subprotocol", origin=None):
    from tests.asgi import application

    headers = [(b"host", b"testserver")] + ([(b"origin", origin)] if origin else [])
    path = "/ws/notifications/"
    subprotocols = None
    if how == "subprotocol":
        subprotocols = [SUBPROTOCOL, f"live-notify.token.{token}"]
    else:
        path += f"?token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)
    connected, subprotocol = await communicator.connect()
    return communicator, connected, subprotocol


@pytest.mark.parametrize("how", ["subprotocol", "query"])
async def test_token_socket_from_no_origin_receives_its_notifications(how):
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    token = await sync_to_async(make_token)(ana)
    socket, connected, subprotocol = await token_socket(token, how)
    assert connected
    assert subprotocol == (SUBPROTOCOL if how == "subprotocol" else None)
    await anotify(bob, title="not for ana")
    notification = await anotify(ana, title="for ana")
    assert json.loads(await socket.receive_from(2))["notification"]["id"] == notification.pk
    await socket.disconnect()


async def test_connecting_with_a_token_costs_no_query(count_sql):
    ana = await sync_to_async(make_user)("ana")
    token = await sync_to_async(make_token)(ana)
    executed = count_sql()  # every thread's SQL, channels' database thread included
    socket, connected, _ = await token_socket(token)
    await socket.send_json_to({"type": "heartbeat"})
    assert json.loads(await socket.receive_from(2)) == {"type": "heartbeat_ack"}
    assert connected
    assert executed == []
    await socket.disconnect()


@pytest.mark.parametrize(
    "mangle",
    [lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"), lambda token: "garbage", lambda _: ""],
    ids=["forged-signature", "garbage", "empty"],
)
async def test_forged_token_is_anonymous(mangle):
    ana = await sync_to_async(make_user)("ana")
    token = mangle(await sync_to_async(make_token)(ana))
    socket, connected, _ = await token_socket(token, "query")
    assert connected
    assert (await socket.receive_output(2))["code"] == 4001


async def test_token_of_another_salt_is_refused():
    from django.core import signing

    ana = await sync_to_async(make_user)("ana")
    other = signing.TimestampSigner(salt="something else", sep=".").sign_object({"u": str(ana.pk)})
    socket, _, _ = await token_socket(other, "query")
    assert (await socket.receive_output(2))["code"] == 4001


@override_settings(LIVE_NOTIFY={"TOKEN_MAX_AGE": 1})
async def test_expired_token_cannot_be_replayed(monkeypatch):
    from django.core import signing

    ana = await sync_to_async(make_user)("ana")
    token = await sync_to_async(make_token)(ana)
    socket, _, _ = await token_socket(token)
    await socket.send_json_to({"type": "heartbeat"})
    assert json.loads(await socket.receive_from(2)) == {"type": "heartbeat_ack"}
    later = time.time() + 2.1  # The signature's clock, moved on past TOKEN_MAX_AGE instead of sleeping.
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: later))
    replay, _, _ = await token_socket(token)
    assert (await replay.receive_output(2))["code"] == 4001
    await socket.disconnect()


async def test_cookie_socket_without_origin_is_still_refused():
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana, origin=None, expect_open=False)
    connected, _ = await socket.connect()
    assert not connected


def test_token_endpoint_is_post_with_csrf_for_signed_in_users_only(user_factory):
    ana = user_factory("ana")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/notifications/api/token/").status_code == 403
    client.force_login(ana)
    assert client.get("/notifications/api/token/").status_code == 405
    assert client.post("/notifications/api/token/").status_code == 403  # no CSRF token
    client.get("/notifications/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post("/notifications/api/token/", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 60 and body["token"]
    from django_live_notify.tokens import user_from_token

    assert user_from_token(body["token"]).pk == ana.pk
