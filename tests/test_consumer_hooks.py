"""Subclasses extend the consumer through connect(), receive_json() and disconnect(), and only through them."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.urls import path

from django_live_notify import notify
from django_live_notify.consumers import NotificationConsumer
from django_live_notify.routing import websocket_application
from django_live_notify.testing import assert_no_frame, communicator, receive_frame
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = []


class PingConsumer(NotificationConsumer):
    async def connect(self):
        EVENTS.append(("connect", self.user.username))
        self.pings = 0

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            self.pings += 1
            self.send_frame(json.dumps({"type": "pong", "count": self.pings}))
        else:
            await super().receive_json(content)

    async def disconnect(self, code):
        EVENTS.append(("disconnect", self.user.username, code))


APPLICATION = websocket_application([path("ws/ping/", PingConsumer.as_asgi())])


@pytest.fixture(autouse=True)
def clear_events():
    EVENTS.clear()


async def pinger(user):
    return await communicator(user, "/ws/ping/", application=APPLICATION)


async def frames_until(ws, frame_type):
    while True:
        frame = await receive_frame(ws)
        if frame["type"] == frame_type:
            return frame


async def test_connect_runs_once_the_socket_is_authenticated_and_disconnect_when_it_closes():
    ana = await make_user_async("ana")
    ws = await pinger(ana)
    await ws.send_json_to({"type": "get_unread_count"})
    await frames_until(ws, "unread_count")
    assert EVENTS == [("connect", "ana")]

    await ws.disconnect(code=4321)

    assert EVENTS == [("connect", "ana"), ("disconnect", "ana", 4321)]


async def test_frames_of_your_own_reach_receive_json_and_the_protocol_still_works():
    ana = await make_user_async("ana")
    ws = await pinger(ana)
    await ws.send_json_to({"type": "ping"})
    await ws.send_json_to({"type": "ping"})
    assert (await frames_until(ws, "pong"))["count"] == 1
    assert (await frames_until(ws, "pong"))["count"] == 2

    await ws.send_json_to({"type": "nonsense"})
    error = await frames_until(ws, "error")
    assert error["code"] == "unknown_type"

    await notify_async(ana, "still live")
    assert (await frames_until(ws, "notification"))["notification"]["title"] == "still live"
    await ws.disconnect()


async def test_an_anonymous_socket_runs_neither_hook():
    ws = await communicator(None, "/ws/ping/", application=APPLICATION)
    assert (await ws.receive_output(1))["code"] == 4001
    await assert_no_frame(ws)
    assert EVENTS == []


@pytest.mark.parametrize("name", ["websocket_connect", "websocket_receive", "receive", "dispatch"])
def test_overriding_a_method_that_would_never_run_fails_at_once(name):
    async def method(self, *args, **kwargs):
        pass

    with pytest.raises(TypeError, match=f"overrides {name} of NotificationConsumer.*connect\\(\\), receive_json"):
        type("Broken", (NotificationConsumer,), {name: method})


async def make_user_async(username):
    return await sync_to_async(make_user)(username)


async def notify_async(user, title):
    await sync_to_async(notify)(user, title=title)
