"""Under uvicorn's websockets-sansio, the outbox writes frames straight to the transport, whole and in order.

A real uvicorn server runs in the test's event loop (so the hub and the test share it), with a real client.
"""

import asyncio

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect

from django_live_notify.hub import get_hub
from django_live_notify.outbox import direct_transport
from tests.conftest import make_user, session_cookie
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

# Payloads (in bytes, once encoded) on each side of the frame header's length boundaries: 7 bits, 16 bits, 64 bits.
FRAMES = ["a" * size for size in (1, 125, 126, 127, 65535, 65536, 70000)] + ["é" * 63, "€" * 42]


async def serve_and_connect(user):
    from tests.asgi import application

    key = await sync_to_async(session_cookie)(user)
    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, ws="websockets-sansio", ws_per_message_deflate=False,
        lifespan="off", log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={key}"}
    socket = await connect(f"ws://127.0.0.1:{port}/ws/notifications/", additional_headers=headers, compression=None)
    hub = await get_hub()
    while str(user.pk) not in hub.connections:
        await asyncio.sleep(0.01)
    [connection] = hub.connections[str(user.pk)]
    return server, serving, socket, hub, connection


async def stop(server, serving, socket):
    await socket.close()
    server.should_exit = True
    await asyncio.wait_for(serving, 10)


async def test_frames_go_straight_to_the_transport_and_arrive_whole_and_in_order():
    ana = await sync_to_async(make_user)("ana")
    server, serving, socket, hub, connection = await serve_and_connect(ana)
    try:
        assert direct_transport(connection.outbox._server()) is not None
        hub.send_frames(str(ana.pk), FRAMES)
        assert [await asyncio.wait_for(socket.recv(), 5) for _ in FRAMES] == FRAMES
        assert connection.outbox.writer is None
    finally:
        await stop(server, serving, socket)


async def test_while_the_server_pauses_writing_frames_wait_in_the_outbox_and_follow_in_order():
    ana = await sync_to_async(make_user)("ana")
    server, serving, socket, hub, connection = await serve_and_connect(ana)
    try:
        protocol = connection.outbox._server()
        # What the transport calls when its buffer passes the high-water mark.
        protocol.pause_writing()
        assert direct_transport(protocol) is None
        hub.send_frames(str(ana.pk), ["first", "second"])
        assert connection.outbox.writer is not None
        protocol.resume_writing()
        hub.send_frames(str(ana.pk), ["third"])
        assert [await asyncio.wait_for(socket.recv(), 5) for _ in range(3)] == ["first", "second", "third"]
    finally:
        await stop(server, serving, socket)
