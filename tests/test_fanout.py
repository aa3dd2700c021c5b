"""A broadcast is stored once; each recipient's row is written by the first read of that user's notifications.

The concurrency test (processes reading while another broadcasts) is in test_databases.py.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_live_notify import broadcast, fanout, notify, stats
from django_live_notify.models import Broadcast, Notification, NotificationPreference, PendingBroadcast
from django_live_notify.reading import mark_all_read, unread_count, unread_counts
from django_live_notify.replay import resume_frames_many
from django_live_notify.signals import notification_created
from tests.conftest import read_broadcasts


@pytest.fixture
def users(user_factory):
    return [user_factory(name) for name in ("ana", "bob", "cid")]


def test_a_broadcast_stores_one_row_and_a_narrow_one_per_recipient(users):
    ana, bob, cid = users
    NotificationPreference.objects.create(user=bob, notification_type="system", delivery="off")
    NotificationPreference.objects.create(user=cid, notification_type="system", delivery="store")

    assert broadcast(title="Maintenance", message="tonight") == 2

    [stored] = Broadcast.objects.all()
    assert (stored.title, stored.message, stored.notification_type, stored.recipients) == (
        "Maintenance",
        "tonight",
        "system",
        2,
    )
    assert sorted(PendingBroadcast.objects.values_list("user_id", "silent")) == [(ana.pk, False), (cid.pk, True)]
    assert not Notification.objects.exists()


def reads():
    """Every way the package reads a user's notifications: each must see the broadcast."""
    client_reads = {
        "the history page": lambda client, user: "Maintenance" in client.get(reverse("live_notify:list")).text,
        "the JSON list": lambda client, user: client.get(reverse("live_notify:api_list")).json()["count"],
        "the JSON unread count": lambda client, user: client.get(reverse("live_notify:api_unread_count")).json()[
            "count"
        ],
        "the JSON inbox": lambda client, user: len(client.get(reverse("live_notify:api_inbox")).json()["results"]),
    }
    code_reads = {
        "for_user()": lambda user: Notification.objects.for_user(user).count(),
        "user.live_notifications": lambda user: len(user.live_notifications.all()),
        "unread_count()": unread_count,
        "unread_counts()": lambda user: unread_counts([user.pk])[f"{user.pk}"],
        "resume": lambda user: '"Maintenance"' in resume_frames_many([(user.pk, 0)])[0][0][0],
        "mark_all_read()": mark_all_read,
    }
    return [pytest.param(read, True, id=name) for name, read in client_reads.items()] + [
        pytest.param(read, False, id=name) for name, read in code_reads.items()
    ]


@pytest.mark.parametrize(("read", "by_client"), reads())
def test_the_first_read_of_a_user_writes_that_users_row_only(users, client, read, by_client):
    ana, bob, _cid = users
    broadcast(title="Maintenance")
    if by_client:
        client.force_login(ana)
        assert read(client, ana) == 1 or read(client, ana) is True
    else:
        assert read(ana) in (1, True)

    [row] = Notification.objects.all()
    assert (row.recipient_id, row.title, row.broadcast_id) == (ana.pk, "Maintenance", Broadcast.objects.get().pk)
    assert sorted(PendingBroadcast.objects.values_list("user_id", flat=True)) == sorted(user.pk for user in users[1:])
    assert bob.live_notifications.count() == 1


def test_the_written_row_is_the_broadcasts_copy_at_the_time_of_the_broadcast(users):
    ana = users[0]
    expires_at = timezone.now() + timedelta(days=1)
    broadcast(title="Maintenance", message="tonight", notification_type="ops", expires_at=expires_at)
    sent = Broadcast.objects.get()
    # A later choice does not take back what was sent: the preference applied is the one at broadcast time.
    NotificationPreference.objects.create(user=ana, notification_type="ops", delivery="off")

    [row] = Notification.objects.for_user(ana)
    assert (row.title, row.message, row.notification_type, row.expires_at, row.silent) == (
        "Maintenance",
        "tonight",
        "ops",
        expires_at,
        False,
    )
    assert row.created == row.modified == sent.created
    assert row.read_at is None and row.group_key == "" and row.sender_id is None


def test_a_notification_after_the_broadcast_counts_it_and_gets_the_higher_id(users):
    ana = users[0]
    broadcast(title="first")
    later = notify(ana, title="second")
    assert unread_count(ana) == 2
    assert [row.title for row in Notification.objects.for_user(ana).order_by("created")] == ["first", "second"]
    assert Notification.objects.get(title="first").pk > later.pk


def test_an_expired_broadcast_is_never_written_and_the_cleanup_deletes_it(users):
    ana = users[0]
    broadcast(title="soon gone", expires_at=timezone.now() + timedelta(seconds=30))
    Broadcast.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert Notification.objects.for_user(ana).count() == 0
    assert not Notification.objects.exists()
    # Reading ana's notifications dropped ana's pending row; the others' go with the broadcast.
    assert PendingBroadcast.objects.count() == 2
    call_command("live_notify_cleanup", verbosity=0)
    assert not Broadcast.objects.exists() and not PendingBroadcast.objects.exists()


def test_the_cleanup_keeps_a_broadcast_someone_has_not_read_and_drops_it_once_all_rows_are_written(users):
    broadcast(title="kept")
    Broadcast.objects.update(created=timezone.now() - timedelta(days=400))
    call_command("live_notify_cleanup", "--days", "30", verbosity=0)
    assert Broadcast.objects.count() == 1 and PendingBroadcast.objects.count() == 3

    read_broadcasts()
    call_command("live_notify_cleanup", "--days", "30", verbosity=0)
    assert not Broadcast.objects.exists()
    # The rows are unread: they stay, with a copy of everything.
    assert Notification.objects.filter(title="kept").count() == 3


def test_deleting_a_user_or_a_broadcast_deletes_their_pending_rows(users):
    ana, bob, _cid = users
    broadcast(title="one")
    broadcast(title="two")
    ana.delete()
    assert not PendingBroadcast.objects.filter(user_id=ana.pk).exists()
    assert PendingBroadcast.objects.count() == 4
    Broadcast.objects.filter(title="one").delete()
    assert PendingBroadcast.objects.count() == 2
    assert [row.title for row in Notification.objects.for_user(bob)] == ["two"]


def test_a_pending_row_whose_broadcast_is_gone_is_dropped_without_a_row(users):
    ana = users[0]
    broadcast(title="one")
    # A raw delete (no cascade through Django): the pending rows stay behind.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Broadcast._meta.db_table}")
    assert Notification.objects.for_user(ana).count() == 0
    assert not PendingBroadcast.objects.filter(user=ana).exists()


def test_with_a_listener_of_notification_created_every_row_is_written_at_once(users):
    created = []

    def listener(sender, recipient_ids, notification_ids, **kwargs):
        created.append((sorted(recipient_ids), len(notification_ids)))

    notification_created.connect(listener, sender=Notification, dispatch_uid="test_fanout")
    try:
        assert broadcast(title="pushed too") == 3
    finally:
        notification_created.disconnect(sender=Notification, dispatch_uid="test_fanout")
    assert created == [(sorted(user.pk for user in users), 3)]
    assert Notification.objects.count() == 3
    assert not PendingBroadcast.objects.exists() and not Broadcast.objects.exists()


def test_a_read_with_nothing_pending_costs_one_query_more(users):
    ana = users[0]
    notify(ana, title="mine")
    with CaptureQueriesContext(connection) as queries:
        assert Notification.objects.for_user(ana).count() == 1
    assert len(queries) == 2
    assert "pendingbroadcast" in queries[0]["sql"]
    # Building a queryset reads nothing: only evaluating it does, once.
    with CaptureQueriesContext(connection) as queries:
        rows = Notification.objects.for_user(ana).filter(title="mine")
    assert not queries
    with CaptureQueriesContext(connection) as queries:
        assert [row.title for row in rows] == ["mine"]
        assert [row.title for row in rows] == ["mine"]
    assert len(queries) == 2


def test_many_users_are_checked_one_query_per_batch(user_factory):
    many = [user_factory(f"user{index}") for index in range(25)]
    with override_settings(LIVE_NOTIFY={"BATCH_SIZE": 10}), CaptureQueriesContext(connection) as queries:
        assert fanout.materialize(user.pk for user in many) == 0
    assert len(queries) == 3


def test_the_funnel_and_the_daily_counts_include_the_recipients_not_yet_written(users):
    ana = users[0]
    broadcast(title="counted", notification_type="ops")
    broadcast_id = Broadcast.objects.get().pk
    assert stats.funnel(broadcast_id) == {"rows": 3, "delivered": 0, "seen": 0, "read": 0}
    mark_all_read(ana)
    assert stats.funnel(broadcast_id) == {"rows": 3, "delivered": 0, "seen": 0, "read": 1}

    today = timezone.now().date()
    [day] = stats.daily(today, today)
    assert (day.notification_type, day.sent, day.read) == ("ops", 3, 1)
    [everything] = stats.daily(today, today, by_type=False)
    assert (everything.notification_type, everything.sent) == (stats.ALL_TYPES, 3)
    assert stats.daily(today, today, notification_type="other") == []


def test_a_user_created_after_the_broadcast_does_not_get_it(users):
    broadcast(title="before you came")
    newcomer = get_user_model().objects.create_user("dan")
    assert Notification.objects.for_user(newcomer).count() == 0
