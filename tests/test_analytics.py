"""Analytics records: ack and clicked frames, per-channel deliveries, the setting that turns them off."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from django_live_notify import analytics
from django_live_notify.models import Notification, NotificationDelivery
from django_live_notify.testing import receive_frame as receive
from tests.conftest import make_user, open_socket


def store(user, title="Hello", **extra):
    return Notification.objects.create(recipient=user, title=title, **extra)


async def round_trip(socket):
    """Wait until the socket handled every frame sent before: frames of one socket are handled in order."""
    await socket.send_json_to({"type": "heartbeat"})
    assert await receive(socket) == {"type": "heartbeat_ack"}


async def fetch(row):
    await sync_to_async(row.refresh_from_db)()
    return row


@pytest.mark.django_db(transaction=True)
async def test_the_first_ack_sets_delivered_at_and_later_ones_change_nothing():
    ana = await sync_to_async(make_user)("ana")
    first, second = await sync_to_async(store)(ana), await sync_to_async(store)(ana)
    tab, other_tab = await open_socket(ana), await open_socket(ana)

    await tab.send_json_to({"type": "ack", "ids": [first.pk]})
    await round_trip(tab)
    delivered = (await fetch(first)).delivered_at
    assert delivered is not None and (await fetch(second)).delivered_at is None

    await other_tab.send_json_to({"type": "ack", "ids": [first.pk, second.pk]})
    await round_trip(other_tab)
    assert (await fetch(first)).delivered_at == delivered
    assert (await fetch(second)).delivered_at is not None
    await tab.disconnect()
    await other_tab.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_acks_and_clicks_of_another_users_rows_change_nothing_and_answer_nothing():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    theirs = await sync_to_async(store)(bob)
    socket = await open_socket(ana)

    await socket.send_json_to({"type": "ack", "ids": [theirs.pk, 10**9]})
    await socket.send_json_to({"type": "clicked", "ids": [theirs.pk]})
    await round_trip(socket)

    row = await fetch(theirs)
    assert (row.delivered_at, row.clicked_at) == (None, None)
    assert await socket.receive_nothing(0.1)
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_clicked_sets_clicked_at_once():
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana)
    socket = await open_socket(ana)

    await socket.send_json_to({"type": "clicked", "ids": [row.pk]})
    await round_trip(socket)
    clicked = (await fetch(row)).clicked_at
    await socket.send_json_to({"type": "clicked", "ids": [row.pk]})
    await round_trip(socket)

    assert clicked is not None and (await fetch(row)).clicked_at == clicked
    assert row.delivered_at is None
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ids", ["1", [], [0], [1.5], [True], list(range(1, 102))])
async def test_a_bad_ack_gets_an_error_and_changes_nothing(ids):
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana)
    socket = await open_socket(ana)

    await socket.send_json_to({"type": "ack", "ids": ids})

    assert (await receive(socket))["code"] == "invalid_field"
    assert (await fetch(row)).delivered_at is None
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_with_analytics_off_acks_and_clicks_are_ignored():
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana)
    with override_settings(LIVE_NOTIFY={"ANALYTICS": False}):
        socket = await open_socket(ana)
        await socket.send_json_to({"type": "ack", "ids": [row.pk]})
        await socket.send_json_to({"type": "clicked", "ids": [row.pk]})
        await socket.send_json_to({"type": "ack", "ids": "not checked either"})
        await round_trip(socket)
        await socket.disconnect()

    row = await fetch(row)
    assert (row.delivered_at, row.clicked_at) == (None, None)


@pytest.mark.django_db(transaction=True)
async def test_acks_of_many_sockets_are_written_by_a_few_updates(count_sql):
    users = [await sync_to_async(make_user)(f"user{index}") for index in range(30)]
    rows = [await sync_to_async(store)(user) for user in users]
    sockets = [await open_socket(user) for user in users]
    executed = count_sql()

    for socket, row in zip(sockets, rows, strict=True):
        await socket.send_json_to({"type": "ack", "ids": [row.pk]})
    await asyncio.gather(*(round_trip(socket) for socket in sockets))

    updates = [sql for sql in executed if sql.lstrip().upper().startswith("UPDATE")]
    # The first ack is written alone; the others arrive meanwhile and go together.
    assert 1 <= len(updates) <= 3, updates
    delivered = await sync_to_async(Notification.objects.filter(delivered_at__isnull=False).count)()
    assert delivered == len(rows)
    for socket in sockets:
        await socket.disconnect()


def test_record_sets_only_each_users_own_rows(db):
    ana, bob = make_user("ana"), make_user("bob")
    anas, bobs = store(ana), store(bob)

    analytics.record([("delivered", ana.pk, [anas.pk, bobs.pk]), ("clicked", bob.pk, [anas.pk])])

    anas.refresh_from_db()
    bobs.refresh_from_db()
    assert anas.delivered_at is not None and anas.clicked_at is None
    assert (bobs.delivered_at, bobs.clicked_at) == (None, None)


def test_record_channel_delivery_counts_the_first_delivery_per_channel(db):
    ana = make_user("ana")
    first, second = store(ana), store(ana)
    missing = second.pk + 100

    assert analytics.record_channel_delivery([first.pk, missing], "webpush") == 1
    assert analytics.record_channel_delivery([first.pk, second.pk], "webpush") == 1
    assert analytics.record_channel_delivery([first.pk], "email") == 1
    assert analytics.record_channel_delivery([], "email") == 0

    pairs = set(NotificationDelivery.objects.values_list("notification_id", "channel"))
    assert pairs == {(first.pk, "webpush"), (second.pk, "webpush"), (first.pk, "email")}


@pytest.mark.parametrize("channel", ["", "live", "x" * 33])
def test_record_channel_delivery_refuses_a_bad_channel(db, channel):
    row = store(make_user("ana"))
    with pytest.raises(ValueError, match="channel"):
        analytics.record_channel_delivery([row.pk], channel)
    assert not NotificationDelivery.objects.exists()


@override_settings(LIVE_NOTIFY={"ANALYTICS": False})
def test_record_channel_delivery_records_nothing_with_analytics_off(db):
    row = store(make_user("ana"))
    assert analytics.record_channel_delivery([row.pk], "email") == 0
    assert not NotificationDelivery.objects.exists()


def test_cleanup_deletes_the_delivery_records_of_the_rows_it_deletes(db):
    ana = make_user("ana")
    old, kept = store(ana), store(ana)
    Notification.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(days=400), read_at=timezone.now() - timedelta(days=399)
    )
    analytics.record_channel_delivery([old.pk, kept.pk], "email")

    call_command("live_notify_cleanup", "--quiet")

    assert list(NotificationDelivery.objects.values_list("notification_id", flat=True)) == [kept.pk]


def test_record_takes_a_full_batch_of_reports_from_as_many_users(db, count_sql):
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"bulk{index}") for index in range(1000)])
    users = list(user_model.objects.filter(username__startswith="bulk").order_by("pk"))
    Notification.objects.bulk_create([Notification(recipient=user, title="t") for user in users])
    rows = dict(Notification.objects.values_list("recipient_id", "pk"))
    # Each user acks their own row and, in vain, their neighbour's.
    reports = [("delivered", user.pk, [rows[user.pk], rows[users[index - 1].pk]]) for index, user in enumerate(users)]
    executed = count_sql()

    assert analytics.record(reports) == [1000] * 1000

    # One SELECT and one UPDATE per BATCH_SIZE (1000) ids.
    assert len(executed) == 2, executed
    assert Notification.objects.filter(delivered_at__isnull=False).count() == 1000
