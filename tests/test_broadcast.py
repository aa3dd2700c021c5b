"""broadcast() to everyone: stored once (one INSERT ... SELECT of its recipients), each row written when first read,
and a live message that names the broadcast only."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from django_live_notify import abroadcast, anotify, protocol, publish
from django_live_notify.models import Broadcast, Notification, PendingBroadcast
from django_live_notify.replay import broadcast_targets
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket, read_broadcasts

pytestmark = pytest.mark.django_db(transaction=True)


def published_messages(monkeypatch):
    messages = []
    original = publish._publish_local

    def recording(message):
        messages.append(message)
        original(message)

    monkeypatch.setattr(publish, "_publish_local", recording)
    return messages


@pytest.mark.parametrize("users", [3, 300])
async def test_the_live_message_is_the_same_size_for_any_number_of_users(users, monkeypatch):
    await sync_to_async(get_user_model().objects.bulk_create)(
        [get_user_model()(username=f"u{i}") for i in range(users)]
    )
    messages = published_messages(monkeypatch)
    assert await abroadcast(title="Maintenance tonight") == users
    [message] = messages
    assert message["targets"] == [] and set(message["broadcast"]) == {"id", "after"}
    assert len(json.dumps(message)) < 700


async def test_each_socket_gets_its_own_row_id_and_count():
    ana, bob, _cid = [await sync_to_async(make_user)(name) for name in ("ana", "bob", "cid")]
    await anotify(ana, title="earlier")
    sockets = {user.username: await open_socket(user) for user in (ana, bob)}
    assert await abroadcast(title="Everyone") == 3
    rows = {
        row.recipient.username: row
        async for row in Notification.objects.filter(title="Everyone").select_related("recipient")
    }
    for name, count in (("ana", 2), ("bob", 1)):
        frame = await receive_frame(sockets[name])
        assert frame["type"] == "notification"
        assert frame["notification"]["id"] == rows[name].pk
        assert frame["notification"]["title"] == "Everyone"
        assert await receive_frame(sockets[name]) == {"type": "unread_count", "count": count}
    # Offline, cid has no row until something reads cid's notifications.
    assert set(rows) == {"ana", "bob"}
    cid = await sync_to_async(get_user_model().objects.get)(username="cid")
    [cid_row] = [row async for row in Notification.objects.for_user(cid)]
    assert cid_row.title == "Everyone" and cid_row.broadcast_id == rows["ana"].broadcast_id is not None
    for socket in sockets.values():
        assert await socket.receive_nothing(0.2)
        await socket.disconnect()


def test_a_process_finds_only_its_users_rows_of_that_broadcast(user_factory):
    from django_live_notify import broadcast, notify

    ana, bob, cid = (user_factory(name) for name in ("ana", "bob", "cid"))
    before = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    broadcast(title="first")
    notify(ana, title="targeted, stored between the two broadcasts")
    broadcast(title="second")
    second = Broadcast.objects.get(title="second").pk
    ana_key, bob_key = protocol.user_key(ana), protocol.user_key(bob)
    targets = broadcast_targets(str(second), before, [ana_key, bob_key])
    ids = {row.recipient_id: row.pk for row in Notification.objects.filter(title="second")}
    assert sorted(targets) == sorted([[ana_key, ids[ana.pk], 3], [bob_key, ids[bob.pk], 2]])
    # Only the users of this process got their rows written, of both broadcasts, so their counts are right.
    assert cid.pk not in ids and PendingBroadcast.objects.filter(user=cid).count() == 2
    assert not PendingBroadcast.objects.filter(user__in=[ana, bob]).exists()


# Large enough that the database, not Python, does the work (the benchmark times 100,000: benchmarks/
# broadcast_store.py); small enough for the default suite.
MANY = 20_000


@pytest.mark.parametrize("to", ["everyone", "queryset", "list"])
def test_a_broadcast_to_many_users_stores_exactly_one_row_per_user_who_wants_it(to):
    from django.test import override_settings

    from django_live_notify import broadcast
    from django_live_notify.models import NotificationPreference

    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"many{index:05d}") for index in range(MANY)], batch_size=2000)
    ids = list(user_model.objects.order_by("pk").values_list("pk", flat=True))
    inactive = set(ids[5::50])
    user_model.objects.filter(pk__in=inactive).update(is_active=False)
    off, store = set(ids[::9]), set(ids[1::20]) - set(ids[::9])
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user_id=pk, notification_type="news", delivery="off") for pk in off]
        + [NotificationPreference(user_id=pk, notification_type="news", delivery="store") for pk in store]
        # Another type's choice must not count.
        + [NotificationPreference(user_id=pk, notification_type="other", delivery="off") for pk in ids[2::7]],
        batch_size=2000,
    )
    audience = {
        "everyone": None,
        "queryset": user_model.objects.filter(pk__in=ids[: MANY // 2]),
        "list": list(user_model.objects.filter(pk__in=ids[MANY // 2 :]).order_by("?")),
    }[to]
    targeted = {
        "everyone": set(ids) - inactive,
        "queryset": set(ids[: MANY // 2]),
        "list": set(ids[MANY // 2 :]),
    }[to]

    assert broadcast(title="News", notification_type="news", users=audience) == len(targeted - off)

    # Stored once: a narrow row per recipient, and no notification row until it is read.
    assert not Notification.objects.exists()
    assert sorted(PendingBroadcast.objects.values_list("user_id", flat=True)) == sorted(targeted - off)
    assert read_broadcasts() == len(targeted - off)
    assert not PendingBroadcast.objects.exists()
    rows = list(Notification.objects.values_list("recipient_id", "silent", "broadcast_id"))
    assert sorted(recipient for recipient, _, _ in rows) == sorted(targeted - off)
    assert {recipient for recipient, silent, _ in rows if silent} == targeted & store
    assert len({broadcast_id for _, _, broadcast_id in rows}) == 1

    with override_settings(LIVE_NOTIFY={"MANDATORY_TYPES": ["news"]}):
        assert broadcast(title="Mandatory", notification_type="news", users=audience) == len(targeted)
    read_broadcasts()
    mandatory = Notification.objects.filter(title="Mandatory")
    assert sorted(mandatory.values_list("recipient_id", flat=True)) == sorted(targeted)
    assert not mandatory.filter(silent=True).exists()


def test_a_queryset_of_users_gets_one_row_per_user_whatever_its_shape(user_factory):
    """A plain QuerySet is read as it is; a join, slice, distinct, values() or union still counts each user once."""
    from django.contrib.auth.models import Group

    from django_live_notify import broadcast

    ana, bob, cid = user_factory("ana"), user_factory("bob"), user_factory("cid")
    staff, admins = Group.objects.create(name="staff"), Group.objects.create(name="admins")
    ana.groups.add(staff, admins)
    bob.groups.add(staff)
    user_model = get_user_model()
    audiences = {
        "plain, ordered": (user_model.objects.filter(username__in=["ana", "cid"]).order_by("-username"), {ana, cid}),
        "a join that repeats ana": (user_model.objects.filter(groups__in=[staff, admins]), {ana, bob}),
        "a slice": (user_model.objects.order_by("username")[1:], {bob, cid}),
        "distinct over a join": (user_model.objects.filter(groups__name__in=["staff", "bots"]).distinct(), {ana, bob}),
        "values": (user_model.objects.filter(username="bob").values("pk"), {bob}),
        "a union": (user_model.objects.filter(pk=ana.pk).union(user_model.objects.filter(pk=cid.pk)), {ana, cid}),
    }  # fmt: skip
    for name, (users, expected) in audiences.items():
        Notification.objects.all().delete()
        assert broadcast(title=name, users=users) == len(expected), name
        read_broadcasts()
        assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
            user.pk for user in expected
        ), name


def test_a_queryset_that_selects_nobody_stores_nothing(user_factory):
    from django_live_notify import broadcast

    user_factory("ana")
    user_model = get_user_model()
    for users in (user_model.objects.none(), user_model.objects.filter(pk__in=[]), user_model.objects.all()[5:]):
        assert broadcast(title="nobody", users=users) == 0
    assert not Notification.objects.exists() and not PendingBroadcast.objects.exists()
    assert not Broadcast.objects.exists()
