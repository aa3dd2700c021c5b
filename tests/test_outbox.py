"""The outbox: frames are queued, never awaited by the hub; a socket that falls behind is aborted at once."""

import asyncio
import struct

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from django_live_notify import protocol, publish
from django_live_notify.hub import get_hub
from django_live_notify.outbox import server_protocol
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {"MAX_PENDING_FRAMES": 8, "REPLAY_LIMIT": 3, "WRITE_TIMEOUT": 0.5, "MAX_MESSAGES_PER_SECOND": 0}
TOO_SLOW_FRAME = struct.pack("!BBH", 0x88, 2, protocol.CLOSE_TOO_SLOW)


class Transport:
    """What the outbox reaches behind ``send`` under uvicorn: an asyncio-like transport that records."""

    def __init__(self):
        self.written = []
        self.aborted = asyncio.Event()

    def write(self, data):
        self.written.append(data)

    def is_closing(self):
        return self.aborted.is_set()

    def abort(self):
        self.aborted.set()


class SlowServer:
    """Run the app under the communicator with a ``send`` that takes frames only while ``reading`` is set."""

    def __init__(self, application, transport=None):
        self.application = application
        self.reading = asyncio.Event()
        self.reading.set()
        if transport is not None:
            self.transport = transport

    async def __call__(self, scope, receive, send):
        self.forward = send
        await self.application(scope, receive, self.send)

    async def send(self, message):
        if message["type"] == "websocket.send":
            await self.reading.wait()
        await self.forward(message)


async def slow_socket(user, transport=None):
    from tests.asgi import application

    server = SlowServer(application, transport)
    key = await sync_to_async(session_cookie)(user)
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={key}".encode())]
    communicator = WebsocketCommunicator(server, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return server, communicator


def connection_of(hub, user):
    [connection] = hub.connections[str(user.pk)]
    return connection


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_frames_reach_a_reading_socket_in_order_and_no_writer_task_outlives_them():
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    for _ in range(LIMITS["MAX_PENDING_FRAMES"] * 3):
        await socket.send_to(text_data='{"type": "heartbeat"}')
    frames = [await receive_frame(socket) for _ in range(LIMITS["MAX_PENDING_FRAMES"] * 3)]
    assert frames == [{"type": "heartbeat_ack"}] * (LIMITS["MAX_PENDING_FRAMES"] * 3)
    outbox = connection_of(await get_hub(), ana).outbox
    assert outbox.writer is None and outbox.items is None and outbox.timer is None
    await socket.disconnect()


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_a_write_that_waits_is_finished_by_a_writer_task_with_the_frames_queued_behind_it_in_order():
    ana = await sync_to_async(make_user)("ana")
    transport = Transport()
    server, socket = await slow_socket(ana, transport)
    hub = await get_hub()
    server.reading.clear()
    await socket.send_to(text_data='{"type": "heartbeat"}')
    await socket.send_to(text_data='{"type": "get_unread_count"}')
    await socket.send_to(text_data='{"type": "nonsense"}')
    await asyncio.sleep(0.1)
    outbox = connection_of(hub, ana).outbox
    assert outbox.writer is not None and outbox.pending == 2
    assert await socket.receive_nothing(0.1)
    server.reading.set()
    assert [(await receive_frame(socket))["type"] for _ in range(3)] == ["heartbeat_ack", "unread_count", "error"]
    await asyncio.sleep(0.05)
    assert outbox.writer is None and outbox.items is None and outbox.timer is None
    assert not transport.aborted.is_set() and hub.stats["closed_too_slow"] == 0
    # The server's send took the frame the writer resumed: the next one goes out at once, without a task.
    await socket.send_to(text_data='{"type": "heartbeat"}')
    assert outbox.writer is None
    assert await receive_frame(socket) == {"type": "heartbeat_ack"}
    await socket.disconnect()


@override_settings(LIVE_NOTIFY={**LIMITS, "WRITE_TIMEOUT": 30})
async def test_a_socket_with_more_than_max_pending_frames_unsent_is_aborted_at_once(caplog):
    ana = await sync_to_async(make_user)("ana")
    transport = Transport()
    server, socket = await slow_socket(ana, transport)
    hub = await get_hub()
    server.reading.clear()
    # One frame is in the writer's hands; MAX_PENDING_FRAMES more wait; the next one is one too many.
    await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.sleep(0.05)
    for _ in range(LIMITS["MAX_PENDING_FRAMES"]):
        await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.sleep(0.1)
    assert not transport.aborted.is_set()
    started = asyncio.get_running_loop().time()
    await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.wait_for(transport.aborted.wait(), 1)
    assert asyncio.get_running_loop().time() - started < 1
    assert transport.written == [TOO_SLOW_FRAME]
    assert hub.stats["closed_too_slow"] == 1
    assert "fell behind: 9 frames pending" in caplog.text
    await asyncio.sleep(0.05)
    assert hub.connections == {}
    await socket.send_input({"type": "websocket.disconnect", "code": 1006})


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_a_write_pending_longer_than_write_timeout_aborts_the_socket_and_not_sooner():
    ana = await sync_to_async(make_user)("ana")
    transport = Transport()
    server, socket = await slow_socket(ana, transport)
    hub = await get_hub()
    server.reading.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.sleep(LIMITS["WRITE_TIMEOUT"] * 0.6)
    assert not transport.aborted.is_set()
    await asyncio.wait_for(transport.aborted.wait(), 2)
    waited = loop.time() - started
    print(f"aborted after {waited:.2f} s (WRITE_TIMEOUT {LIMITS['WRITE_TIMEOUT']} s)")
    assert LIMITS["WRITE_TIMEOUT"] <= waited < LIMITS["WRITE_TIMEOUT"] + 0.5
    assert hub.stats["closed_too_slow"] == 1
    await socket.send_input({"type": "websocket.disconnect", "code": 1006})


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_a_slow_reader_never_holds_up_delivery_to_others_nor_the_sweep():
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    transport = Transport()
    server, stuck = await slow_socket(ana, transport)
    reader = await open_socket(bob)
    hub = await get_hub()
    server.reading.clear()
    frame = protocol.notification_frame({"title": "hello"})
    # Each call returns without waiting on ana's socket, whose send never completes.
    for _ in range(3):
        message = publish.frames_message([(str(ana.pk), [frame]), (str(bob.pk), [frame])])
        await asyncio.wait_for(hub.deliver(message), 0.1)
        assert (await receive_frame(reader))["notification"] == {"title": "hello"}
    connection_of(hub, ana).last_seen = 0
    assert await asyncio.wait_for(hub.sweep(), 0.5) == 1
    assert str(ana.pk) not in hub.connections
    await asyncio.wait_for(transport.aborted.wait(), LIMITS["WRITE_TIMEOUT"] + 1)
    await reader.disconnect()
    await stuck.send_input({"type": "websocket.disconnect", "code": 1006})


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_without_a_transport_to_abort_the_socket_is_closed_with_4010():
    ana = await sync_to_async(make_user)("ana")
    server, socket = await slow_socket(ana)
    server.reading.clear()
    for _ in range(LIMITS["MAX_PENDING_FRAMES"] + 2):
        await socket.send_to(text_data='{"type": "heartbeat"}')
    assert await socket.receive_output(2) == {"type": "websocket.close", "code": protocol.CLOSE_TOO_SLOW}
    assert (await get_hub()).stats["closed_too_slow"] == 1


async def test_the_server_protocol_is_found_behind_uvicorn_daphne_and_session_middleware_sends():
    import functools

    class ServerProtocol:
        transport = Transport()

        async def send(self, message):
            pass

    class SessionWrapper:
        def __init__(self, send):
            self.real_send = send

        async def send(self, message):
            await self.real_send(message)

    uvicorn_protocol, daphne_protocol = ServerProtocol(), ServerProtocol()
    daphne_send = functools.partial(lambda protocol, message: None, daphne_protocol)
    assert server_protocol(uvicorn_protocol.send) is uvicorn_protocol
    assert server_protocol(daphne_send) is daphne_protocol
    assert server_protocol(SessionWrapper(uvicorn_protocol.send).send) is uvicorn_protocol
    assert server_protocol(SessionWrapper(daphne_send).send) is daphne_protocol
    assert server_protocol(print) is None


@pytest.mark.parametrize(
    "limits",
    [
        {"MAX_PENDING_FRAMES": 101},
        {"MAX_PENDING_FRAMES": 0},
        {"MAX_PENDING_FRAMES": "256"},
        {"REPLAY_LIMIT": 300},
        {"WRITE_TIMEOUT": 0},
        {"WRITE_TIMEOUT": -1},
        {"WRITE_TIMEOUT": "10"},
        {"WRITE_TIMEOUT": float("nan")},
        {"WRITE_TIMEOUT": True},
    ],
)
def test_outbox_limits_that_would_drop_healthy_sockets_are_e007(limits):
    from django_live_notify.checks import check_setup

    with override_settings(LIVE_NOTIFY=limits, DEBUG=True):
        assert [message.id for message in check_setup()] == ["django_live_notify.E008"]


@override_settings(LIVE_NOTIFY={"MAX_PENDING_FRAMES": 102, "WRITE_TIMEOUT": 0.25}, DEBUG=True)
def test_outbox_limits_that_hold_a_full_resume_pass():
    from django_live_notify.checks import check_setup

    assert check_setup() == []


def test_outbox_defaults(settings):
    from django_live_notify.conf import live_settings

    assert (live_settings.max_pending_frames, live_settings.write_timeout) == (256, 10.0)
