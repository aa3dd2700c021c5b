"""The hub on a real Redis: both channels-redis layers, in one process."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.test import override_settings

from django_live_notify import abroadcast, anotify, hub, protocol, publish, send_notification_to_user
from django_live_notify.hub import get_hub
from django_live_notify.publish import FANOUT_GROUP_THRESHOLD
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

LAYERS = ["channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"]


@pytest.fixture(params=LAYERS, ids=["core", "pubsub"])
def redis_layer(request, redis_url):
    with override_settings(
        CHANNEL_LAYERS={"default": {"BACKEND": request.param, "CONFIG": {"hosts": [redis_url], "prefix": "t"}}}
    ):
        yield request.param


async def test_targeted_notification_over_redis(redis_layer):
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    ana_socket, bob_socket = await open_socket(ana), await open_socket(bob)
    hub = await get_hub()
    assert hub.layer is not None and "live_notify.hub" in hub.channel_name
    notification = await anotify(ana, title="over redis")
    frame = await receive_frame(ana_socket)
    assert frame["notification"]["id"] == notification.pk
    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 1}
    assert await bob_socket.receive_nothing(0.3)
    await ana_socket.disconnect()
    await bob_socket.disconnect()


async def test_the_test_socket_opens_once_its_users_group_is_joined(redis_layer, monkeypatch):
    """testing.communicator() returns after the hub joined the user's group, not at the handshake: a notification
    sent right after it reaches the socket even when the join takes a while (CI saw one miss its 3 s wait)."""
    ana = await sync_to_async(make_user)("ana")
    hub = await get_hub()
    join = hub.layer.group_add

    async def slow_join(group, channel):
        await asyncio.sleep(0.5)
        await join(group, channel)

    monkeypatch.setattr(hub.layer, "group_add", slow_join)
    socket = await open_socket(ana)
    assert protocol.user_key(ana) not in hub.joining
    notification = await anotify(ana, title="right after the handshake")
    assert (await receive_frame(socket))["notification"]["id"] == notification.pk
    await socket.disconnect()


async def test_many_recipients_and_broadcast_over_redis(redis_layer):
    users = [await sync_to_async(make_user)(f"u{i}") for i in range(FANOUT_GROUP_THRESHOLD + 2)]
    sockets = [await open_socket(user) for user in users[:3]]
    # More recipients than the threshold: one message to the "everyone" group.
    rows = await anotify(users, title="many")
    for socket, row in zip(sockets, rows, strict=False):
        assert (await receive_frame(socket))["notification"]["id"] == row.pk
        await receive_frame(socket)
    assert await abroadcast(title="all") == len(users)
    for socket in sockets:
        assert (await receive_frame(socket))["notification"]["title"] == "all"
        assert await receive_frame(socket) == {"type": "unread_count", "count": 2}
        await socket.disconnect()


async def test_mark_read_reaches_other_tab_over_redis(redis_layer):
    (ana,) = [await sync_to_async(make_user)("ana")]
    tab_one, tab_two = await open_socket(ana), await open_socket(ana)
    notification = await anotify(ana, title="x")
    for tab in (tab_one, tab_two):
        await receive_frame(tab)
        await receive_frame(tab)
    await tab_one.send_json_to({"type": "mark_read", "id": notification.pk})
    for tab in (tab_one, tab_two):
        assert await receive_frame(tab) == {"type": "read", "ids": [notification.pk]}
        assert await receive_frame(tab) == {"type": "unread_count", "count": 0}
        await tab.disconnect()


async def test_last_socket_leaving_leaves_the_user_group(redis_layer):
    (ana,) = [await sync_to_async(make_user)("ana")]
    socket = await open_socket(ana)
    hub = await get_hub()
    await socket.disconnect()
    assert hub.connections == {}
    # A notification for a user with no socket here is stored and not delivered.
    await anotify(ana, title="offline")


@pytest.mark.slow  # Real Redis expiry and socket timeouts: seconds of real time.
async def test_memberships_are_renewed_before_group_expiry(redis_url):
    """channels-redis forgets group members after group_expiry; the hub joins again in time."""
    layer = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": "expiry", "group_expiry": 2},
    }
    with override_settings(
        CHANNEL_LAYERS={"default": layer}, LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 0.4, "IDLE_TIMEOUT": 30}
    ):
        (ana,) = [await sync_to_async(make_user)("ana")]
        socket = await open_socket(ana)
        await asyncio.sleep(3.5)
        # Push-only sends: no stored row, so only the live path can deliver them.
        await sync_to_async(send_notification_to_user)(ana.pk, {"title": "to the user group"})
        assert (await receive_frame(socket))["notification"] == {"title": "to the user group"}
        frame = protocol.notification_frame({"title": "to everyone"})
        await sync_to_async(publish.publish)(publish.frames_message([(str(ana.pk), [frame])]), everyone=True)
        assert (await receive_frame(socket))["notification"] == {"title": "to everyone"}
        await socket.disconnect()


@pytest.mark.slow  # Real Redis expiry and socket timeouts: seconds of real time.
async def test_idle_read_timeouts_do_not_delay_delivery(redis_url):
    """redis-py times out idle blocking reads; the hub must read again at once, not back off."""
    layer = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 0.5}], "prefix": "idle"},
    }
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        (ana,) = [await sync_to_async(make_user)("ana")]
        socket = await open_socket(ana)
        hub_ = await hub.get_hub()
        await asyncio.sleep(8)  # sixteen idle read timeouts
        # A hub that backed off would now read for 0.5 s between sleeps of seconds: one of these would wait.
        for number in range(3):
            await sync_to_async(send_notification_to_user)(ana.pk, {"title": f"after a quiet while {number}"})
            frame = json.loads(await socket.receive_from(0.5))
            assert frame["notification"] == {"title": f"after a quiet while {number}"}
            await asyncio.sleep(0.6)
        assert hub_.stats["layer_receive_errors"] == 0
        await socket.disconnect()


async def test_a_hub_that_cannot_start_is_dropped_and_the_next_socket_retries(redis_url, caplog):
    from tests.servers import free_port

    ana = await sync_to_async(make_user)("ana")
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": LAYERS[0], "CONFIG": {"hosts": [dead]}}}):
        first = await open_socket(ana)
        closed = await first.receive_output(5)
        assert closed == {"type": "websocket.close", "code": protocol.CLOSE_TRY_AGAIN_LATER}
        assert "Could not start the notification hub" in caplog.text
        assert publish.local_hubs() == []
    channel_layers.backends.clear()
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": LAYERS[0], "CONFIG": {"hosts": [redis_url]}}}):
        second = await open_socket(ana)
        assert (await get_hub()).layer is not None
        notification = await anotify(ana, title="after the layer came back")
        assert (await receive_frame(second))["notification"]["id"] == notification.pk
        await second.disconnect()


async def test_a_socket_that_cannot_join_its_group_is_closed_and_forgotten(redis_url):
    """Redis dies under a running hub: a new socket is told to retry later and leaves nothing behind."""
    from tests.servers import RedisServer, redis_server_binary, skip_or_fail

    binary = redis_server_binary()
    if binary is None:
        skip_or_fail("no redis-server binary: this test kills its own Redis")
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    server = RedisServer(binary)
    server.start()
    try:
        with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": LAYERS[0], "CONFIG": {"hosts": [server.url]}}}):
            first = await open_socket(ana)
            await first.send_json_to({"type": "heartbeat"})
            assert await receive_frame(first) == {"type": "heartbeat_ack"}  # registered, in its group
            running = await get_hub()
            server.kill()
            second = await open_socket(bob)
            closed = await second.receive_output(10)
            assert closed == {"type": "websocket.close", "code": protocol.CLOSE_TRY_AGAIN_LATER}
            assert list(running.connections) == [protocol.user_key(ana)]
            await first.disconnect()
    finally:
        server.stop()
