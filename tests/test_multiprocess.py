"""Two real ASGI server processes (uvicorn and daphne) on one Redis; notify() from a third process."""

import asyncio
import json

import pytest
import websockets

from tests.servers import free_port, live_env, manage, start_asgi_server, stop_process

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CREATE_USERS = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
keys = {}
for name in ("ana", "bob"):
    user = get_user_model().objects.create_user(name, password="pw")
    client = Client()
    client.force_login(user)
    keys[name] = client.cookies["sessionid"].value
print(json.dumps(keys))
"""


async def next_frame(socket, timeout=5):
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def receive_nothing(socket, timeout=0.5):
    try:
        frame = await asyncio.wait_for(socket.recv(), timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected frame {frame}")


@pytest.fixture(
    params=["channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"],
    ids=["core", "pubsub"],
)
def cluster(request, live_database, redis_url):
    """Start uvicorn and daphne on one Redis and one database, with each channels-redis layer.

    Yield (ports, session keys, env).
    """
    env = {**live_env(live_database, redis_url), "LIVE_NOTIFY_TEST_LAYER": request.param}
    manage(env, "migrate", "-v0")
    keys = json.loads(manage(env, "shell", "-v0", "-c", CREATE_USERS).strip().splitlines()[-1])
    ports = {"uvicorn": free_port(), "daphne": free_port()}
    servers = []
    try:
        for kind, port in ports.items():
            servers.append(start_asgi_server(kind, port, env))
        yield ports, keys, env
    finally:
        for server in servers:
            stop_process(server)


async def connect(port, session_key):
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notifications/",
        additional_headers={"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"},
        compression=None,
    )


def test_notify_from_a_command_reaches_both_server_processes(cluster):
    ports, keys, env = cluster

    async def scenario():
        sockets = {
            (name, kind): await connect(port, keys[name]) for name in ("ana", "bob") for kind, port in ports.items()
        }
        try:
            for socket in sockets.values():
                await socket.send('{"type": "heartbeat"}')
                assert await next_frame(socket) == {"type": "heartbeat_ack"}
            await asyncio.to_thread(manage, env, "live_notify_send", "ana", "--title", "for ana")
            for kind in ports:
                frame = await next_frame(sockets["ana", kind])
                assert frame["notification"]["title"] == "for ana"
                assert await next_frame(sockets["ana", kind]) == {"type": "unread_count", "count": 1}
            for kind in ports:
                assert await receive_nothing(sockets["bob", kind])
            await asyncio.to_thread(manage, env, "live_notify_send", "--all", "--title", "for all")
            for (name, _kind), socket in sockets.items():
                frame = await next_frame(socket)
                assert frame["notification"]["title"] == "for all"
                assert await next_frame(socket) == {"type": "unread_count", "count": 2 if name == "ana" else 1}
            # Mark read on uvicorn: the daphne tab of the same user hears about it.
            await sockets["ana", "uvicorn"].send(json.dumps({"type": "mark_all_read"}))
            assert await next_frame(sockets["ana", "daphne"]) == {"type": "read", "all": True}
            assert await next_frame(sockets["ana", "daphne"]) == {"type": "unread_count", "count": 0}
        finally:
            for socket in sockets.values():
                await socket.close()

    asyncio.run(scenario())


def test_oversized_frame_under_daphne_closes_with_4009(cluster):
    ports, keys, _env = cluster

    async def scenario():
        for kind, code in (("daphne", 4009), ("uvicorn", 1009)):
            socket = await connect(ports[kind], keys["ana"])
            await socket.send(json.dumps({"type": "heartbeat", "pad": "x" * 70000}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 5)
            assert closed.value.rcvd.code == code, kind

    asyncio.run(scenario())
