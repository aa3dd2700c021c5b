"""Recipients must be users: every entry point refuses anything else, names it, and stores nothing."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from django_live_notify import (
    abroadcast,
    anotify,
    broadcast,
    broadcast_system_notification,
    create_and_send_notification,
    notify,
    send_notification_to_user,
)
from django_live_notify.models import Notification
from django_live_notify.rules import register, registry, unregister
from tests.conftest import make_user, open_socket, read_broadcasts
from tests.testapp.models import Project, Thing, Ticket


@pytest.fixture
def ana(user_factory):
    return user_factory("ana")


def not_users(ana):
    """Return (value, what the error must name) for each kind of non-user, each sharing a pk with ``ana``."""
    group = Group.objects.create(pk=ana.pk, name="staff")
    thing = Thing.objects.create(pk=ana.pk, name="sink")
    return {
        "group": (group, r"auth\.Group <Group: staff>"),
        "other model": (thing, r"testapp\.Thing <Thing: sink>"),
        "queryset of groups": (Group.objects.all(), r"a QuerySet of auth\.Group"),
        "unsaved user": (get_user_model()(username="ghost"), r"an unsaved auth\.User"),
        "list with a group": ([ana, group], r"auth\.Group <Group: staff>"),
        "list with an unsaved user": ([ana, get_user_model()(username="ghost")], r"an unsaved auth\.User"),
    }


KINDS = [
    "group",
    "other model",
    "queryset of groups",
    "unsaved user",
    "list with a group",
    "list with an unsaved user",
]


@pytest.mark.parametrize("kind", KINDS)
def test_notify_refuses_what_is_not_a_user(ana, kind):
    value, named = not_users(ana)[kind]
    with pytest.raises(TypeError, match=named):
        notify(value, title="t")
    assert not Notification.objects.exists()


@pytest.mark.parametrize("value", ["ana", 5, [5], ["5"], [None], None])
def test_notify_refuses_ids_and_strings_naming_them(ana, value):
    with pytest.raises(TypeError, match=r"recipient must be .*auth\.User.*not (str|int|NoneType)"):
        notify(value, title="t")
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
async def test_anotify_refuses_what_is_not_a_user(kind):
    ana = await sync_to_async(make_user)("ana")
    value, named = (await sync_to_async(not_users)(ana))[kind]
    with pytest.raises(TypeError, match=named):
        await anotify(value, title="t")
    assert not await sync_to_async(Notification.objects.exists)()


@pytest.mark.parametrize("kind", [*KINDS, "a single user"])
def test_broadcast_refuses_what_is_not_users(ana, kind):
    value, named = (ana, r"auth\.User <User: ana>") if kind == "a single user" else not_users(ana)[kind]
    with pytest.raises(TypeError, match=named):
        broadcast(title="t", users=value)
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["queryset of groups", "list with a group"])
async def test_abroadcast_refuses_what_is_not_users(kind):
    ana = await sync_to_async(make_user)("ana")
    value, named = (await sync_to_async(not_users)(ana))[kind]
    with pytest.raises(TypeError, match=named):
        await abroadcast(title="t", users=value)
    assert not await sync_to_async(Notification.objects.exists)()


def test_users_and_querysets_of_users_still_work(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    assert notify(ana, title="one").recipient_id == ana.pk
    assert [row.recipient_id for row in notify([bob, ana, bob], title="list")] == [bob.pk, ana.pk]
    assert broadcast(title="qs", users=get_user_model().objects.filter(pk=bob.pk)) == 1
    assert broadcast(title="list", users=[ana]) == 1
    read_broadcasts()
    assert sorted(Notification.objects.values_list("title", "recipient_id")) == sorted(
        [("one", ana.pk), ("list", bob.pk), ("list", ana.pk), ("qs", bob.pk), ("list", ana.pk)]
    )


# Rules


@pytest.fixture
def clean_registry():
    before = list(registry)
    yield
    for rule in registry:
        if rule not in before:
            unregister(rule)


@pytest.mark.parametrize("kind", KINDS)
def test_rule_recipients_refuse_what_is_not_a_user(ana, clean_registry, kind):
    value, named = not_users(ana)[kind]
    register(Ticket, on="created", recipients=lambda ticket, event: value, title="New", name="bad recipients")
    with pytest.raises(TypeError, match=named) as error:
        Ticket.objects.create(project=Project.objects.create(name="House"), reporter=ana, title="Sink")
    assert "notification rule 'bad recipients'" in "".join(error.value.__notes__)
    assert not Notification.objects.exists()


# The original design's helpers


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_send_notification_refuses_what_is_not_a_user(ana, kind):
    value, named = not_users(ana)[kind]
    with pytest.raises(TypeError, match=named):
        create_and_send_notification(value, "system", "t", "m")
    assert not Notification.objects.exists()


@pytest.mark.parametrize("kind", [*KINDS, "a string", "a bool", "a user id that is not a number"])
def test_broadcast_system_notification_refuses_what_is_not_user_ids(ana, kind):
    others = {
        "a string": ("5", r"str '5'"),
        "a bool": ([True], r"bool True"),
        "a user id that is not a number": (["x"], r"str 'x'"),
    }
    value, named = others[kind] if kind in others else not_users(ana)[kind]
    if kind in ("group", "other model", "unsaved user"):
        value = [value]
    with pytest.raises(TypeError, match=named):
        broadcast_system_notification("t", "m", user_ids=value)
    assert not Notification.objects.exists()


def test_broadcast_system_notification_takes_ids_users_and_querysets_of_users(user_factory):
    ana, bob, cid = user_factory("ana"), user_factory("bob"), user_factory("cid")
    assert broadcast_system_notification("ids", "m", user_ids=[ana.pk, str(bob.pk)]) == 2
    assert broadcast_system_notification("users", "m", user_ids=[cid]) == 1
    assert broadcast_system_notification("qs", "m", user_ids=get_user_model().objects.filter(pk=ana.pk)) == 1
    read_broadcasts()
    assert sorted(Notification.objects.values_list("title", "recipient_id")) == sorted(
        [("ids", ana.pk), ("ids", bob.pk), ("users", cid.pk), ("qs", ana.pk)]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["group", "other model", "queryset of groups", "unsaved user"])
async def test_send_notification_to_user_refuses_what_is_not_a_user_and_pushes_nothing(kind):
    ana = await sync_to_async(make_user)("ana")
    value, named = (await sync_to_async(not_users)(ana))[kind]
    socket = await open_socket(ana)
    with pytest.raises(TypeError, match=named):
        await sync_to_async(send_notification_to_user)(value, {"title": "not for ana"})
    assert await socket.receive_nothing(0.3)
    await sync_to_async(send_notification_to_user)(ana, {"title": "for ana"})
    assert json.loads(await socket.receive_from(2))["notification"] == {"title": "for ana"}
    await socket.disconnect()
