"""Grouping: a notification with the group_key of a recipient's unread one updates it, in place and live."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_live_notify import anotify, notify
from django_live_notify.models import Notification
from django_live_notify.reading import mark_read
from django_live_notify.rules import register, registry, unregister
from django_live_notify.signals import notification_created, notification_updated
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket
from tests.testapp.models import Note, Ticket

# Where the database has row locks, the recipients' user rows are locked first: SQLite's writers take turns anyway.
LOCK = ["SELECT"] if connection.features.has_select_for_update else []


def comment(recipients, author):
    return notify(
        recipients,
        title=f"{author} commented",
        message=f"{author}: looks good",
        group_key="comments:request-42",
        group_title=f"{author} and {{others}} others commented",
        data={"author": author},
    )


def test_a_second_notification_of_the_group_updates_the_unread_one(user_factory):
    ana = user_factory("ana")
    first = comment(ana, "Bob")
    second = comment(ana, "Cid")

    assert second.pk == first.pk
    row = Notification.objects.get()
    assert (row.group_count, row.title, row.message) == (2, "Cid and 1 others commented", "Cid: looks good")
    assert row.data == {"author": "Cid"}
    assert row.modified >= row.created
    comment(ana, "Dan")
    assert Notification.objects.get().title == "Dan and 2 others commented"


def test_news_in_a_group_makes_its_seen_row_unseen_again(user_factory):
    ana = user_factory("ana")
    first = notify(ana, title="Bob commented", group_key="ticket-1")
    Notification.objects.filter(pk=first.pk).update(seen_at=timezone.now())

    notify(ana, title="Carla commented", group_key="ticket-1")

    row = Notification.objects.get()
    assert row.group_count == 2
    assert row.seen_at is None


def test_the_group_title_can_be_a_callable_of_the_count(user_factory):
    ana = user_factory("ana")
    for _ in range(3):
        notify(ana, title="New comment", group_key="c", group_title=lambda count: f"{count} new comments")
    assert Notification.objects.get().title == "3 new comments"


def test_without_a_group_title_the_newest_title_is_kept(user_factory):
    ana = user_factory("ana")
    notify(ana, title="one", group_key="g")
    notify(ana, title="two", group_key="g")
    assert list(Notification.objects.values_list("title", "group_count")) == [("two", 2)]


def test_a_read_notification_is_not_updated_a_new_one_is_stored(user_factory):
    ana = user_factory("ana")
    first = comment(ana, "Bob")
    mark_read(ana, first.pk)
    second = comment(ana, "Cid")

    assert second.pk > first.pk
    rows = Notification.objects.order_by("id")
    assert [(row.title, row.group_count, row.is_read) for row in rows] == [
        ("Bob commented", 1, True),
        ("Cid commented", 1, False),
    ]


def test_an_expired_notification_is_not_updated(user_factory):
    ana = user_factory("ana")
    first = notify(ana, title="a", group_key="g", expires_at=timezone.now() + timedelta(minutes=1))
    Notification.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = notify(ana, title="b", group_key="g")
    assert second.pk != first.pk


def test_groups_are_per_recipient_and_per_key(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    comment(ana, "Cid")
    rows = comment([ana, bob], "Dan")
    notify(ana, title="other group", group_key="comments:request-43")

    assert [row.group_count for row in rows] == [2, 1]
    assert sorted(Notification.objects.values_list("recipient__username", "group_key", "group_count")) == [
        ("ana", "comments:request-42", 2),
        ("ana", "comments:request-43", 1),
        ("bob", "comments:request-42", 1),
    ]


def test_counts_differ_per_recipient_in_one_call(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    comment(ana, "X")
    comment(ana, "Y")
    comment(bob, "Z")
    with CaptureQueriesContext(connection) as queries:
        rows = comment([ana, bob], "W")

    statements = [query["sql"].split()[0] for query in queries if "SAVEPOINT" not in query["sql"]]
    # The shared fields in one UPDATE, the titles (one per count) in one more.
    assert statements == ["SELECT", *LOCK, "SELECT", "UPDATE", "UPDATE"]

    assert [(row.group_count, row.title) for row in rows] == [
        (3, "W and 2 others commented"),
        (2, "W and 1 others commented"),
    ]
    stored = dict(Notification.objects.values_list("recipient_id", "title"))
    assert stored == {ana.pk: "W and 2 others commented", bob.pk: "W and 1 others commented"}


def test_grouping_many_recipients_takes_constant_queries(user_factory):
    users = [user_factory(f"u{index}") for index in range(40)]
    notify(users[:30], title="first", group_key="g")

    with CaptureQueriesContext(connection) as queries:
        rows = notify(users, title="again", group_key="g", group_title="{count} updates")

    statements = [query["sql"].split()[0] for query in queries if "SAVEPOINT" not in query["sql"]]
    # Preferences, the recipients (locked), the unread rows of the group (locked), one UPDATE of them,
    # one INSERT of the others.
    assert statements == ["SELECT", *LOCK, "SELECT", "UPDATE", "INSERT"]
    assert [row.group_count for row in rows] == [2] * 30 + [1] * 10


def test_signals_tell_new_rows_from_updated_ones(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    comment(ana, "X")
    created, updated = [], []
    notification_created.connect(lambda **kw: created.append(kw["notifications"]), weak=False, dispatch_uid="c")
    notification_updated.connect(lambda **kw: updated.append(kw["notifications"]), weak=False, dispatch_uid="u")
    try:
        comment([ana, bob], "Y")
    finally:
        notification_created.disconnect(dispatch_uid="c")
        notification_updated.disconnect(dispatch_uid="u")
    assert [[row.recipient_id for row in rows] for rows in created] == [[bob.pk]]
    assert [[row.recipient_id for row in rows] for rows in updated] == [[ana.pk]]


@pytest.mark.parametrize(
    ("group_title", "error"),
    [("{author} commented", ValueError), ("{0}", ValueError), ("{count", ValueError), (5, TypeError)],
)
def test_bad_group_titles_raise_and_store_nothing(user_factory, group_title, error):
    with pytest.raises(error):
        notify(user_factory("ana"), title="t", group_key="g", group_title=group_title)
    assert not Notification.objects.exists()


def test_a_too_long_group_key_is_refused(user_factory):
    with pytest.raises(ValueError, match="group_key is longer than 255"):
        notify(user_factory("ana"), title="t", group_key="k" * 256)


@pytest.mark.django_db(transaction=True)
async def test_an_update_reaches_an_open_socket_as_an_update_of_the_same_id():
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    first = await anotify(ana, title="Bob commented", group_key="c", group_title="{count} comments")
    frame = await receive_frame(socket)
    assert frame["type"] == "notification"
    assert frame["notification"]["id"] == first.pk
    assert frame["notification"]["group_count"] == 1
    assert await receive_frame(socket) == {"type": "unread_count", "count": 1}

    await anotify(ana, title="Cid commented", message="second", group_key="c", group_title="{count} comments")

    frame = await receive_frame(socket)
    assert frame["type"] == "update"
    payload = frame["notification"]
    assert payload["id"] == first.pk
    assert (payload["title"], payload["message"], payload["group_count"]) == ("2 comments", "second", 2)
    assert payload["group_key"] == "c"
    assert payload["created_at"] == first.created.isoformat()
    stored = await sync_to_async(lambda: Notification.objects.get(pk=first.pk).to_payload())()
    assert payload == json.loads(json.dumps(stored))
    # Still one unread notification.
    assert await receive_frame(socket) == {"type": "unread_count", "count": 1}
    assert await socket.receive_nothing(0.2)
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_one_call_sends_new_rows_and_updates_to_the_right_sockets():
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    await anotify(ana, title="first", group_key="g")
    ana_socket, bob_socket = await open_socket(ana), await open_socket(bob)

    await anotify([ana, bob], title="second", group_key="g")

    ana_frames = [await receive_frame(ana_socket), await receive_frame(ana_socket)]
    bob_frames = [await receive_frame(bob_socket), await receive_frame(bob_socket)]
    assert [frame["type"] for frame in ana_frames] == ["update", "unread_count"]
    assert [frame["type"] for frame in bob_frames] == ["notification", "unread_count"]
    assert ana_frames[0]["notification"]["group_count"] == 2
    assert bob_frames[0]["notification"]["group_count"] == 1
    for socket in (ana_socket, bob_socket):
        await socket.disconnect()


# Rules


@pytest.fixture
def clean_registry():
    before = list(registry)
    yield
    for rule in registry:
        if rule not in before:
            unregister(rule)


def test_a_rule_groups_with_a_format_string_key(clean_registry, user_factory):
    ana, bob, cid = user_factory("ana"), user_factory("bob"), user_factory("cid")
    register(
        Note,
        on="created",
        recipients="ticket.reporter",
        sender="author",
        title="{sender} commented on {instance.ticket.title}",
        group_key="notes:{instance.ticket.pk}",
        group_title="{sender} and {others} others commented on {instance.ticket.title}",
    )
    ticket = Ticket.objects.create(reporter=ana, title="Sink")
    Note.objects.create(ticket=ticket, author=bob, text="a")
    Note.objects.create(ticket=ticket, author=cid, text="b")

    row = Notification.objects.get()
    assert (row.group_key, row.group_count) == (f"notes:{ticket.pk}", 2)
    assert row.title == "cid and 1 others commented on Sink"


def test_a_rule_group_title_may_not_use_unknown_names(clean_registry, db):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"uses \{total\}"):
        register(Note, on="created", recipients="author", title="t", group_key="g", group_title="{total}")
