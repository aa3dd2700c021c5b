"""Protocol v1 over the real ASGI stack (AllowedHostsOriginValidator + AuthMiddlewareStack)."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import override_settings

from django_live_notify import anotify, notify
from django_live_notify.models import Notification
from django_live_notify.signals import notification_read
from django_live_notify.testing import assert_no_frame
from django_live_notify.testing import receive_frame as receive
from tests.conftest import make_user, open_socket, recover_settled

pytestmark = pytest.mark.django_db(transaction=True)


async def users(*names):
    return [await sync_to_async(make_user)(name) for name in names]


async def test_anonymous_socket_is_accepted_then_closed_with_4001():
    communicator = await open_socket(None)
    message = await communicator.receive_output(2)
    assert message == {"type": "websocket.close", "code": 4001, "reason": ""} or (
        message["type"] == "websocket.close" and message["code"] == 4001
    )


async def test_foreign_origin_is_refused_at_handshake():
    (ana,) = await users("ana")
    communicator = await open_socket(ana, origin=b"http://evil.example", expect_open=False)
    connected, _ = await communicator.connect()
    assert not connected


async def test_notify_reaches_own_sockets_only():
    ana, bob = await users("ana", "bob")
    ana_socket = await open_socket(ana)
    ana_second_tab = await open_socket(ana)
    bob_socket = await open_socket(bob)
    notification = await anotify(ana, title="Hello", message="World", url="/x/", data={"k": 1}, sender=bob)
    for tab in (ana_socket, ana_second_tab):
        frame = await receive(tab)
        assert frame["type"] == "notification"
        payload = frame["notification"]
        assert payload["id"] == notification.pk
        assert payload["title"] == "Hello"
        assert payload["message"] == "World"
        assert payload["url"] == "/x/"
        assert payload["data"] == {"k": 1}
        assert payload["is_read"] is False
        assert payload["sender"] == {"id": bob.pk, "name": "bob"}
        assert payload["notification_type"] == "system"
        assert payload["created_at"] == notification.created.isoformat()
        assert await receive(tab) == {"type": "unread_count", "count": 1}
    assert await bob_socket.receive_nothing(0.2)
    for communicator in (ana_socket, ana_second_tab, bob_socket):
        await communicator.disconnect()


async def test_live_payload_equals_stored_payload():
    ana, bob = await users("ana", "bob")
    socket = await open_socket(ana)
    thing = await sync_to_async(
        lambda: __import__("tests.testapp.models", fromlist=["Thing"]).Thing.objects.create(name="t")
    )()
    notification = await anotify(ana, title="T", sender=bob, target=thing)
    frame = await receive(socket)
    stored = await sync_to_async(
        lambda: Notification.objects.select_related("sender").get(pk=notification.pk).to_payload()
    )()
    assert frame["notification"] == json.loads(json.dumps(stored, default=str))
    assert frame["notification"]["target"] == {"type": "testapp.thing", "id": str(thing.pk)}
    await socket.disconnect()


async def test_send_waits_for_commit_and_never_follows_a_rollback():
    (ana,) = await users("ana")
    socket = await open_socket(ana)
    inside = threading.Event()
    release = threading.Event()

    def notify_in_transaction(rollback):
        try:
            with transaction.atomic():
                notify(ana, title="rolled back" if rollback else "committed")
                inside.set()
                release.wait(5)
                if rollback:
                    raise RuntimeError("roll back")
        except RuntimeError:
            pass

    for rollback in (True, False):
        inside.clear()
        release.clear()
        task = asyncio.ensure_future(sync_to_async(notify_in_transaction, thread_sensitive=False)(rollback))
        await asyncio.get_running_loop().run_in_executor(None, inside.wait, 5)
        assert await socket.receive_nothing(0.2)
        release.set()
        await task
        if rollback:
            assert await socket.receive_nothing(0.3)
        else:
            frame = await receive(socket)
            assert frame["notification"]["title"] == "committed"
    titles = await sync_to_async(lambda: list(Notification.objects.values_list("title", flat=True)))()
    assert titles == ["committed"]
    await socket.disconnect()


async def test_heartbeat_is_acknowledged():
    (ana,) = await users("ana")
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "heartbeat"})
    assert await receive(socket) == {"type": "heartbeat_ack"}
    await socket.disconnect()


async def test_get_unread_count():
    (ana,) = await users("ana")
    await sync_to_async(lambda: [notify(ana, title=f"n{i}") for i in range(3)])()
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "get_unread_count"})
    assert await receive(socket) == {"type": "unread_count", "count": 3}
    await socket.disconnect()


async def test_mark_read_updates_every_tab_of_the_user():
    ana, bob = await users("ana", "bob")
    first, _second = await sync_to_async(lambda: [notify(ana, title="a"), notify(ana, title="b")])()
    tab_one = await open_socket(ana)
    tab_two = await open_socket(ana)
    bob_socket = await open_socket(bob)
    received = []
    notification_read.connect(lambda **kwargs: received.append(kwargs), weak=False, dispatch_uid="t")
    try:
        await tab_one.send_json_to({"type": "mark_read", "id": first.pk})
        for tab in (tab_one, tab_two):
            assert await receive(tab) == {"type": "read", "ids": [first.pk]}
            assert await receive(tab) == {"type": "unread_count", "count": 1}
        assert await bob_socket.receive_nothing(0.2)
    finally:
        notification_read.disconnect(dispatch_uid="t")
    assert received[0]["ids"] == [first.pk] and received[0]["count"] == 1 and received[0]["user"].pk == ana.pk
    read_ids = await sync_to_async(lambda: list(Notification.objects.read().values_list("id", flat=True)))()
    assert read_ids == [first.pk]
    # Marking it again changes nothing and still answers the count.
    await tab_one.send_json_to({"type": "mark_read", "id": first.pk})
    assert await receive(tab_one) == {"type": "unread_count", "count": 1}
    for communicator in (tab_one, tab_two, bob_socket):
        await communicator.disconnect()


async def test_foreign_id_answers_exactly_like_a_missing_one():
    ana, bob = await users("ana", "bob")
    bobs = await sync_to_async(notify)(bob, title="private")
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "mark_read", "id": bobs.pk})
    foreign = await receive(socket)
    await socket.send_json_to({"type": "mark_read", "id": bobs.pk + 1000})
    missing = await receive(socket)
    assert foreign == missing == {"type": "error", "code": "not_found", "message": "No such notification."}
    assert await sync_to_async(lambda: Notification.objects.get(pk=bobs.pk).read_at)() is None
    await socket.disconnect()


async def test_mark_all_read():
    ana, bob = await users("ana", "bob")
    await sync_to_async(lambda: [notify(ana, title="a"), notify(ana, title="b"), notify(bob, title="c")])()
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "mark_all_read"})
    assert await receive(socket) == {"type": "read", "all": True}
    assert await receive(socket) == {"type": "unread_count", "count": 0}
    assert await sync_to_async(Notification.objects.unread().count)() == 1
    await socket.disconnect()


async def test_resume_replays_missed_notifications_oldest_first():
    ana, bob = await users("ana", "bob")
    rows = await sync_to_async(lambda: [notify(ana, title=f"n{i}") for i in range(4)])()
    await sync_to_async(notify)(bob, title="not yours")
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "resume", "last_id": rows[1].pk})
    assert [(await receive(socket))["notification"]["id"] for _ in range(2)] == [rows[2].pk, rows[3].pk]
    assert await receive(socket) == {"type": "resumed", "count": 2, "complete": True}
    assert await receive(socket) == {"type": "unread_count", "count": 4}
    await socket.disconnect()


@override_settings(LIVE_NOTIFY={"REPLAY_LIMIT": 3})
async def test_resume_past_the_replay_limit_says_incomplete():
    (ana,) = await users("ana")
    rows = await sync_to_async(lambda: [notify(ana, title=f"n{i}") for i in range(5)])()
    socket = await open_socket(ana)
    await socket.send_json_to({"type": "resume", "last_id": 0})
    replayed = [(await receive(socket))["notification"]["id"] for _ in range(3)]
    assert replayed == [row.pk for row in rows[2:]]
    assert await receive(socket) == {"type": "resumed", "count": 3, "complete": False}
    await socket.disconnect()


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ('"text"', "invalid_json"),
    ("{}", "unknown_type"),
    ('{"type": "subscribe", "user": 2}', "unknown_type"),
    ('{"type": 5}', "unknown_type"),
    ('{"type": "mark_read"}', "invalid_field"),
    ('{"type": "mark_read", "id": "1"}', "invalid_field"),
    ('{"type": "mark_read", "id": true}', "invalid_field"),
    ('{"type": "mark_read", "id": -1}', "invalid_field"),
    ('{"type": "mark_read", "id": 1.5}', "invalid_field"),
    ('{"type": "mark_read", "id": 99999999999999999999999}', "invalid_field"),
    ('{"type": "resume", "last_id": null}', "invalid_field"),
    ('{"type": "resume", "last_id": -3}', "invalid_field"),
]


@pytest.mark.parametrize(("text", "code"), BAD_FRAMES)
async def test_bad_input_answers_an_error_and_changes_nothing(text, code):
    (ana,) = await users("ana")
    row = await sync_to_async(notify)(ana, title="keep unread")
    socket = await open_socket(ana)
    await socket.send_to(text_data=text)
    frame = await receive(socket)
    assert frame["type"] == "error" and frame["code"] == code and frame["message"]
    # The connection still works and nothing changed.
    await socket.send_json_to({"type": "get_unread_count"})
    assert await receive(socket) == {"type": "unread_count", "count": 1}
    assert await sync_to_async(lambda: Notification.objects.get(pk=row.pk).read_at)() is None
    await socket.disconnect()


async def test_binary_frame_answers_an_error():
    (ana,) = await users("ana")
    socket = await open_socket(ana)
    await socket.send_to(bytes_data=b"\x00\x01")
    assert (await receive(socket))["code"] == "binary_frame"
    await socket.send_json_to({"type": "heartbeat"})
    assert await receive(socket) == {"type": "heartbeat_ack"}
    await socket.disconnect()


@pytest.mark.parametrize("setting", [{}, {"TOO_BIG_CLOSE_CODE": 4009}])
async def test_oversized_frame_closes_with_message_too_big(setting):
    (ana,) = await users("ana")
    with override_settings(LIVE_NOTIFY={"MAX_MESSAGE_SIZE": 1024, **setting}):
        socket = await open_socket(ana)
        await socket.send_to(text_data=json.dumps({"type": "heartbeat", "pad": "x" * 1100}))
        message = await socket.receive_output(2)
    assert message["type"] == "websocket.close"
    assert message["code"] == setting.get("TOO_BIG_CLOSE_CODE", 1009)


async def test_multibyte_frame_is_measured_in_bytes():
    (ana,) = await users("ana")
    with override_settings(LIVE_NOTIFY={"MAX_MESSAGE_SIZE": 1024}):
        socket = await open_socket(ana)
        await socket.send_to(text_data=json.dumps({"type": "heartbeat", "pad": "é" * 600}, ensure_ascii=False))
        message = await socket.receive_output(2)
    assert message["code"] == 1009


@override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 30, "IDLE_TIMEOUT": 60})
async def test_silent_socket_is_reaped_and_talking_socket_is_kept(monkeypatch):
    from django_live_notify.hub import get_hub

    ana, bob = await users("ana", "bob")
    silent = await open_socket(ana)
    talking = await open_socket(bob)
    hub = await get_hub()
    # A minute later, instead of sleeping one: the loop's clock is the one the hub and the consumer read.
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "time", lambda now=loop.time: now() + 61)
    await talking.send_json_to({"type": "heartbeat"})
    assert await receive(talking) == {"type": "heartbeat_ack"}
    await hub.sweep()
    message = await silent.receive_output(1)
    assert message == {"type": "websocket.close", "code": 4002, "reason": ""} or message["code"] == 4002
    assert hub.stats["closed_idle"] == 1
    await talking.send_json_to({"type": "heartbeat"})
    assert await receive(talking) == {"type": "heartbeat_ack"}
    await talking.disconnect()


async def test_disconnect_leaves_the_hub():
    from django_live_notify.hub import get_hub

    (ana,) = await users("ana")
    socket = await open_socket(ana)
    hub = await get_hub()
    assert hub.connection_count == 1
    await socket.disconnect()
    assert hub.connection_count == 0


async def test_row_stored_without_a_live_send_still_reaches_open_sockets():
    """A process that dies between commit and send leaves a row nobody pushed: the sweep sends it."""
    from django_live_notify.hub import get_hub

    ana, bob = await users("ana", "bob")
    socket = await open_socket(ana)
    bob_socket = await open_socket(bob)
    hub = await get_hub()
    assert await recover_settled(hub) == 0  # the first sweep sets its watermark
    # Stored straight through the ORM: no notify(), so no live send at all.
    row = await sync_to_async(Notification.objects.create)(recipient=ana, title="lost send")
    assert await recover_settled(hub) == 1
    frame = await receive(socket)
    assert frame["notification"]["id"] == row.pk
    assert await receive(socket) == {"type": "unread_count", "count": 1}
    # Sent once: later sweeps do not repeat it, and nobody else gets it.
    assert await recover_settled(hub) == 0
    await assert_no_frame(socket)
    await assert_no_frame(bob_socket)
    await socket.disconnect()
    await bob_socket.disconnect()


async def test_recovery_sweep_does_not_repeat_live_or_resumed_notifications():
    from django_live_notify.hub import get_hub

    (ana,) = await users("ana")
    socket = await open_socket(ana)
    hub = await get_hub()
    assert await recover_settled(hub) == 0
    await anotify(ana, title="live")
    assert (await receive(socket))["notification"]["title"] == "live"
    assert (await receive(socket))["type"] == "unread_count"
    await sync_to_async(Notification.objects.create)(recipient=ana, title="resumed")
    await socket.send_json_to({"type": "resume", "last_id": 0})
    assert [(await receive(socket))["type"] for _ in range(4)] == [
        "notification", "notification", "resumed", "unread_count",
    ]  # fmt: skip
    assert await recover_settled(hub) == 0
    await assert_no_frame(socket)
    await socket.disconnect()
