"""Channel-layer outages: the hub re-joins at once when Redis is back, and senders log a few lines, not a flood."""

import asyncio
import json
import logging
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import ManagementUtility
from django.test import override_settings

from django_live_notify import anotify, notify, protocol, publish
from django_live_notify.hub import get_hub
from django_live_notify.management.commands.live_notify_send import STORED_NOT_SENT
from django_live_notify.models import Notification
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket, session_cookie
from tests.servers import RedisServer, free_port, redis_server_binary, skip_or_fail

CORE = "channels_redis.core.RedisChannelLayer"


def layers(url):
    return {"default": {"BACKEND": CORE, "CONFIG": {"hosts": [url]}}}


@pytest.fixture
def own_redis():
    """A redis-server of this test's own, which it restarts."""
    binary = redis_server_binary()
    if binary is None:
        skip_or_fail("no redis-server binary: this test restarts its own Redis")
    server = RedisServer(binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_outage(monkeypatch):
    """Start every test with no outage recorded by an earlier one."""
    monkeypatch.setattr(publish, "outage", publish._Outage())


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_redis_restarted_empty_delivers_again_within_seconds(own_redis):
    """Default heartbeat (30 s, so a 15 s sweep): the hub re-joins on its own, not at the next sweep."""
    ana = await sync_to_async(make_user)("ana")
    with override_settings(CHANNEL_LAYERS=layers(own_redis.url)):
        socket = await open_socket(ana)
        await socket.send_json_to({"type": "heartbeat"})
        assert await receive_frame(socket) == {"type": "heartbeat_ack"}
        hub = await get_hub()
        assert hub.layer is not None
        own_redis.kill()
        await asyncio.sleep(0.5)  # live sends fail meanwhile; the hub's reads fail and it starts re-joining
        await sync_to_async(own_redis.start)()  # empty: every group membership is gone
        back = time.monotonic()
        while hub.rejoin or (hub.rejoining is not None and not hub.rejoining.done()):
            assert time.monotonic() - back < 5.0, "the hub did not re-join its groups"
            await asyncio.sleep(0.01)
        rejoined = time.monotonic() - back
        assert rejoined < 2.0, f"re-joined {rejoined:.2f} s after Redis was back"
        # The timing: a notification sent one second after Redis accepts connections again.
        await asyncio.sleep(max(0.0, back + 1.0 - time.monotonic()))
        sent = time.monotonic()
        notification = await anotify(ana, title="after the restart")
        frame = await receive_frame(socket, timeout=20)
        arrived = time.monotonic()
        print(f"\nRedis restarted empty, default heartbeat: groups re-joined {rejoined:.2f} s after Redis was back;")
        print(f"a notification sent {sent - back:.2f} s after it arrived {arrived - sent:.3f} s later")
        assert frame["notification"]["id"] == notification.pk
        assert arrived - back < 5.0, f"arrived {arrived - back:.2f} s after Redis was back: the re-join waited"
        assert await receive_frame(socket) == {"type": "unread_count", "count": 1}
        await socket.disconnect()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_handshake_while_redis_is_down_waits_for_it_briefly(own_redis):
    """A socket that opens while Redis is restarting waits for it instead of getting 1013."""
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    with override_settings(CHANNEL_LAYERS=layers(own_redis.url)):
        first = await open_socket(ana)
        await first.send_json_to({"type": "heartbeat"})
        assert await receive_frame(first) == {"type": "heartbeat_ack"}
        own_redis.kill()
        restart = threading.Timer(0.6, own_redis.start)
        restart.start()
        from tests.asgi import application

        key = await sync_to_async(session_cookie)(bob)
        headers = [
            (b"host", b"testserver"),
            (b"origin", b"http://testserver"),
            (b"cookie", f"sessionid={key}".encode()),
        ]
        second = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        started = time.monotonic()
        connected, _ = await second.connect(timeout=5)
        assert connected
        # Frames are handled in order: the ack comes once the handshake has joined the user's group.
        await second.send_json_to({"type": "heartbeat"})
        answer = await second.receive_output(5)
        waited = time.monotonic() - started
        await sync_to_async(restart.join)()
        print(f"\nA handshake during a Redis restart (0.6 s down) joined its group after {waited:.2f} s")
        assert answer.get("code") != protocol.CLOSE_TRY_AGAIN_LATER, "told to come back later"
        assert json.loads(answer["text"]) == {"type": "heartbeat_ack"}
        notification = await anotify(bob, title="joined while Redis restarted")
        assert (await receive_frame(second))["notification"]["id"] == notification.pk
        await second.disconnect()
        await first.disconnect()


def outage_records(caplog):
    return [record for record in caplog.records if record.name == "django_live_notify"]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_outage_logs_one_error_counted_warnings_and_one_info(
    user_factory, caplog, fresh_outage, monkeypatch, redis_url
):
    ana = user_factory("ana")
    caplog.set_level(logging.INFO, logger="django_live_notify")
    with override_settings(CHANNEL_LAYERS=layers(f"redis://127.0.0.1:{free_port()}/0")):
        for number in range(50):
            notify(ana, title=f"during the outage {number}")
    assert Notification.objects.filter(recipient=ana).count() == 50
    records = outage_records(caplog)
    errors = [record for record in records if record.levelno == logging.ERROR]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    assert "rows are stored and recovery will send them" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert len([record for record in records if record.levelno == logging.WARNING]) <= 1
    assert not [record for record in records if record.exc_info and record is not errors[0]]

    # Once the warning interval passes, the next failure reports the count since the last line.
    caplog.clear()
    monkeypatch.setattr(publish, "OUTAGE_WARNING_SECONDS", 0.0)
    with override_settings(CHANNEL_LAYERS=layers(f"redis://127.0.0.1:{free_port()}/0")):
        notify(ana, title="still down")
    (warning,) = outage_records(caplog)
    assert warning.levelno == logging.WARNING
    assert "live sends failed in the last" in warning.getMessage()
    assert warning.exc_info is None

    caplog.clear()
    with override_settings(CHANNEL_LAYERS=layers(redis_url)):
        notify(ana, title="back")
        notify(ana, title="still fine")
    (info,) = outage_records(caplog)
    assert info.levelno == logging.INFO
    assert "Live sends work again" in info.getMessage() and "51 failed meanwhile" in info.getMessage()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_publish_tells_its_caller_whether_the_send_went(fresh_outage, redis_url, caplog):
    message = publish.frames_message([("nobody", ["{}"])])
    with override_settings(CHANNEL_LAYERS=layers(f"redis://127.0.0.1:{free_port()}/0")):
        assert publish.publish(message) is False
    with override_settings(CHANNEL_LAYERS=layers(redis_url)):
        assert publish.publish(message) is True
    assert publish.publish(message) is True  # the in-memory layer


@pytest.mark.django_db(transaction=True)  # The command closes the database connections when it ends.
def test_the_command_exits_non_zero_when_it_stored_without_sending_live(user_factory, capsys, fresh_outage):
    user_factory("ana")
    argv = ["manage.py", "live_notify_send", "ana", "--skip-checks", "--title", "during the outage"]
    refused = layers(f"redis://127.0.0.1:{free_port()}/0")
    with override_settings(CHANNEL_LAYERS=refused), pytest.raises(SystemExit) as exit_info:
        ManagementUtility(argv).execute()
    assert exit_info.value.code == STORED_NOT_SENT == 3
    captured = capsys.readouterr()
    assert "Stored the notification for 1 user(s) without sending it live" in captured.err
    assert "Notified" not in captured.out
    assert Notification.objects.filter(title="during the outage").count() == 1
