"""notify(), broadcast() and the helpers kept from hand-written Channels setups."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_live_notify import (
    abroadcast,
    broadcast,
    broadcast_system_notification,
    create_and_send_notification,
    notify,
    send_notification_to_user,
)
from django_live_notify.models import Broadcast, Notification
from django_live_notify.signals import notification_created
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket, read_broadcasts
from tests.testapp.models import Thing


def test_notify_one_user_returns_the_stored_row(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    thing = Thing.objects.create(name="sink")
    notification = notify(
        ana,
        title="T",
        message="M",
        notification_type="service_request",
        sender=bob,
        target=thing,
        url="/t/",
        data={"when": "now"},
    )
    stored = Notification.objects.get()
    assert notification.pk == stored.pk
    assert (stored.recipient, stored.sender, stored.target) == (ana, bob, thing)
    assert (stored.title, stored.message, stored.notification_type, stored.url) == ("T", "M", "service_request", "/t/")
    assert stored.data == {"when": "now"}
    assert not stored.is_read


def test_notify_many_users_bulk_inserts_one_row_each(user_factory, django_assert_max_num_queries):
    recipients = [user_factory(f"user{i}") for i in range(30)]
    with django_assert_max_num_queries(4):
        rows = notify(recipients + recipients[:5], title="hi")
    assert [row.recipient_id for row in rows] == [user.pk for user in recipients]
    assert all(row.pk for row in rows)
    assert Notification.objects.count() == 30


def test_notify_accepts_a_queryset(user_factory):
    from django.contrib.auth import get_user_model

    for name in ("a", "b", "c"):
        user_factory(name)
    rows = notify(get_user_model().objects.filter(username__in=["a", "b"]), title="qs")
    assert len(rows) == 2
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"a", "b"}


def test_notify_to_nobody_stores_nothing(db):
    assert notify([], title="nobody") == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"title": ""}, ValueError),
        ({"title": "   "}, ValueError),
        ({"title": 5}, TypeError),
        ({"title": "t", "message": None}, TypeError),
        ({"title": "t", "data": [1]}, TypeError),
        ({"title": "t", "data": {"x": object()}}, TypeError),
        ({"title": "x" * 300}, ValueError),
        ({"title": "t", "notification_type": 3}, TypeError),
    ],
)
def test_bad_arguments_raise_and_store_nothing(user_factory, kwargs, error):
    ana = user_factory("ana")
    with pytest.raises(error):
        notify(ana, **kwargs)
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)", "data:text/html,<b>", "vbscript:x"]
)
def test_urls_that_are_not_relative_or_http_are_refused_and_store_nothing(user_factory, url):
    ana = user_factory("ana")
    with pytest.raises(ValueError, match=r"url must be relative or http\(s\)"):
        notify(ana, title="t", url=url)
    assert not Notification.objects.exists()


@pytest.mark.parametrize("url", ["", "/tickets/7/", "?page=2", "#top", "//cdn.example.com/x", "https://example.com/a"])
def test_relative_and_http_urls_are_stored(user_factory, url):
    ana = user_factory("ana")
    assert notify(ana, title="t", url=url).url == url


@pytest.mark.parametrize("recipient", ["ana", 5, [5], [None], ["x"], "unsaved-user"])
def test_bad_recipient_raises(user_factory, recipient):
    from django.contrib.auth import get_user_model

    user_factory("ana")
    if recipient == "unsaved-user":
        recipient = get_user_model()(username="unsaved")
    with pytest.raises(TypeError):
        notify(recipient, title="t")
    assert not Notification.objects.exists()


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("system", "System"), ("message", "Message")]})
def test_configured_types_are_enforced(user_factory):
    ana = user_factory("ana")
    notify(ana, title="ok", notification_type="message")
    with pytest.raises(ValueError, match="Unknown notification_type 'chat'"):
        notify(ana, title="bad", notification_type="chat")
    assert Notification.objects.count() == 1


@override_settings(LIVE_NOTIFY={"DEFAULT_NOTIFICATION_TYPE": "info"})
def test_default_type_comes_from_settings(user_factory):
    assert notify(user_factory("ana"), title="t").notification_type == "info"


def test_unsaved_target_is_refused(user_factory):
    with pytest.raises(ValueError):
        notify(user_factory("ana"), title="t", target=Thing(name="unsaved"))


def test_notification_created_signal(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    seen = []
    notification_created.connect(lambda **kwargs: seen.append(kwargs), weak=False, dispatch_uid="t")
    try:
        rows = notify([ana, bob], title="t")
    finally:
        notification_created.disconnect(dispatch_uid="t")
    assert seen[0]["notifications"] == rows


def test_broadcast_to_all_active_users(user_factory):
    active = [user_factory(f"u{i}") for i in range(5)]
    user_factory("gone", is_active=False)
    assert broadcast(title="Maintenance", message="tonight") == 5
    read_broadcasts()
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(u.pk for u in active)
    assert set(Notification.objects.values_list("notification_type", flat=True)) == {"system"}


def test_broadcast_to_a_list(user_factory):
    users = [user_factory(f"u{i}") for i in range(4)]
    assert broadcast(title="Some", users=users[:2]) == 2
    assert read_broadcasts() == Notification.objects.count() == 2


def test_broadcast_to_an_empty_list_or_to_deleted_users_stores_nothing(user_factory):
    gone = user_factory("gone")
    type(gone).objects.filter(pk=gone.pk).delete()  # The object keeps its pk.
    assert broadcast(title="Nobody", users=[]) == 0
    assert broadcast(title="Nobody", users=[gone]) == 0
    assert not Notification.objects.exists() and not Broadcast.objects.exists()


def _broadcast_queries(count):
    from django.contrib.auth import get_user_model

    Notification.objects.all().delete()
    get_user_model().objects.all().delete()
    get_user_model().objects.bulk_create([get_user_model()(username=f"bulk{count}-{i}") for i in range(count)])
    with CaptureQueriesContext(connection) as queries:
        assert broadcast(title="all") == count
    return len(queries)


@pytest.mark.django_db(transaction=True)
def test_broadcast_to_everyone_is_the_same_few_queries_for_any_number_of_users():
    with override_settings(LIVE_NOTIFY={"BATCH_SIZE": 100}):
        small, large = _broadcast_queries(20), _broadcast_queries(600)
    # The highest id before, one INSERT ... SELECT of the recipients, the broadcast's row, and the savepoint or
    # transaction around them.
    assert small == large <= 5


@pytest.mark.django_db(transaction=True)
def test_broadcast_to_a_list_is_the_same_few_queries_for_any_number_of_users():
    from django.contrib.auth import get_user_model

    get_user_model().objects.bulk_create([get_user_model()(username=f"bulk-{i}") for i in range(1200)])
    users = list(get_user_model().objects.order_by("pk"))
    counts = []
    for audience in (users[:3], users[3:]):
        with CaptureQueriesContext(connection) as queries:
            assert broadcast(title="all", users=audience) == len(audience)
        # The recipients' INSERT ... SELECT, and the broadcast's row.
        assert len([query for query in queries if query["sql"].startswith("INSERT")]) == 2
        counts.append(len(queries))
    assert counts[0] == counts[1]
    read_broadcasts()
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == [user.pk for user in users]


@pytest.mark.django_db(transaction=True)
async def test_broadcast_reaches_every_socket_with_its_own_row_id():
    users = [await sync_to_async(make_user)(f"u{i}") for i in range(3)]
    sockets = [await open_socket(user) for user in users]
    assert await abroadcast(title="Everyone", message="hello") == 3
    rows = await sync_to_async(lambda: dict(Notification.objects.values_list("recipient_id", "id")))()
    for user, socket in zip(users, sockets, strict=True):
        frame = await receive_frame(socket)
        assert frame["notification"]["id"] == rows[user.pk]
        assert frame["notification"]["title"] == "Everyone"
        assert await receive_frame(socket) == {"type": "unread_count", "count": 1}
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_seed_helpers():
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    socket = await open_socket(ana)
    notification_id = await sync_to_async(create_and_send_notification)(
        user=ana,
        notification_type="service_request",
        title="Nova Solicitação",
        message="m",
        sender=bob,
        related_object_id=7,
        related_object_type="ServiceRequest",
    )
    frame = await receive_frame(socket)
    assert frame["notification"]["id"] == notification_id
    assert frame["notification"]["data"] == {"related_object_id": 7, "related_object_type": "ServiceRequest"}
    await receive_frame(socket)

    await sync_to_async(send_notification_to_user)(ana.pk, {"id": 123, "title": "push only"})
    assert await receive_frame(socket) == {"type": "notification", "notification": {"id": 123, "title": "push only"}}
    assert await sync_to_async(Notification.objects.filter(pk=123).exists)() is False

    assert await sync_to_async(broadcast_system_notification)("Sys", "msg", user_ids=[ana.pk]) == 1
    assert (await receive_frame(socket))["notification"]["title"] == "Sys"
    await receive_frame(socket)
    assert await sync_to_async(broadcast_system_notification)("All", "msg") == 2
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_send_failure_is_logged_not_raised(user_factory, caplog):
    ana = user_factory("ana")
    with override_settings(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},
            }
        }
    ):
        notification = notify(ana, title="stored anyway")
    assert Notification.objects.get().pk == notification.pk
    assert "Live sends are failing" in caplog.text


def test_lazy_strings_are_resolved(user_factory):
    from django.urls import reverse_lazy
    from django.utils.translation import gettext_lazy, override

    with override("en"):
        row = notify(user_factory("ana"), title=gettext_lazy("Notifications"), url=reverse_lazy("live_notify:list"))
    row.refresh_from_db()
    assert (row.title, row.url) == ("Notifications", "/notifications/")
