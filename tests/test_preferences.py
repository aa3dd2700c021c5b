"""Preferences: per user and type, live / store / off; defaults, mandatory types, the page and the JSON API."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_live_notify import abroadcast, anotify, broadcast, notify
from django_live_notify.models import Notification, NotificationPreference, PendingBroadcast
from django_live_notify.preferences import PreferenceError, deliveries, preferences_for, set_preferences
from django_live_notify.rules import register, registry, unregister
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket, read_broadcasts
from tests.testapp.models import Ticket

TYPES = [("system", "System"), ("comment", "Comment"), ("security", "Security")]


def prefer(user, notification_type, delivery):
    NotificationPreference.objects.create(user=user, notification_type=notification_type, delivery=delivery)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def users(user_factory):
    return [user_factory(name) for name in ("ana", "bob", "cid")]


# --------------------------------------------------------------------------- notify() and broadcast()


def test_off_stores_nothing_and_store_stores_a_silent_row(users):
    ana, bob, cid = users
    prefer(bob, "comment", "off")
    prefer(cid, "comment", "store")
    prefer(ana, "other", "off")

    rows = notify(users, title="New comment", notification_type="comment")

    assert [row.recipient for row in rows] == [ana, cid]
    assert [row.silent for row in rows] == [False, True]
    assert Notification.objects.filter(recipient=bob).count() == 0


def test_one_user_who_turned_the_type_off_gets_none(users):
    ana = users[0]
    prefer(ana, "comment", "off")
    assert notify(ana, title="t", notification_type="comment") is None
    assert not Notification.objects.exists()


def test_preferences_are_read_in_one_query_for_all_recipients(user_factory):
    recipients = [user_factory(f"user{index}") for index in range(30)]
    for recipient in recipients[::3]:
        prefer(recipient, "comment", "off")

    with CaptureQueriesContext(connection) as queries:
        rows = notify(recipients, title="t", notification_type="comment")

    preference_queries = [query for query in queries if "notificationpreference" in query["sql"]]
    assert len(preference_queries) == 1
    assert len(rows) == 20
    assert len([query for query in queries if query["sql"].startswith("INSERT")]) == 1


@override_settings(LIVE_NOTIFY={"PREFERENCE_DEFAULTS": {"digest": "store", "marketing": "off"}})
def test_defaults_per_type_apply_to_users_who_chose_nothing(users):
    ana, bob, _cid = users
    prefer(bob, "marketing", "live")

    assert notify(users, title="m", notification_type="marketing") == [Notification.objects.get(recipient=bob)]
    digest = notify(users, title="d", notification_type="digest")
    assert [row.silent for row in digest] == [True, True, True]
    assert deliveries([ana.pk, bob.pk], "anything") == {ana.pk: "live", bob.pk: "live"}


@override_settings(LIVE_NOTIFY={"MANDATORY_TYPES": ["security"], "PREFERENCE_DEFAULTS": {"security": "live"}})
def test_mandatory_types_ignore_preferences_without_a_query(users):
    ana, bob, _cid = users
    prefer(ana, "security", "off")
    prefer(bob, "security", "store")

    with CaptureQueriesContext(connection) as queries:
        rows = notify(users, title="New sign-in", notification_type="security")

    assert not [query for query in queries if "notificationpreference" in query["sql"]]
    assert len(rows) == 3
    assert not any(row.silent for row in rows)


@pytest.mark.parametrize("default", ["live", "store", "off"])
@pytest.mark.parametrize("to", ["everyone", "queryset", "list"])
def test_broadcast_in_the_database_reads_preferences_in_the_same_statement(users, default, to):
    ana, bob, cid = users
    prefer(ana, "system", "live")
    prefer(bob, "system", "off")
    prefer(cid, "system", "store")
    dan = get_user_model().objects.create_user("dan")  # chose nothing: the type's default
    audience = {"everyone": None, "queryset": get_user_model().objects.all()}.get(
        to, list(get_user_model().objects.all())
    )
    with (
        override_settings(LIVE_NOTIFY={"PREFERENCE_DEFAULTS": {"system": default}}),
        CaptureQueriesContext(connection) as queries,
    ):
        stored = broadcast(title="Maintenance", users=audience)

    expected = [("ana", False), ("cid", True)]
    if default != "off":
        expected.append(("dan", default == "store"))
    pending = PendingBroadcast.objects.values_list("user__username", "silent")
    assert sorted(pending) == expected and not Notification.objects.exists()
    assert stored == len(expected)
    inserts = [query["sql"] for query in queries if query["sql"].startswith("INSERT")]
    [insert] = [sql for sql in inserts if "pendingbroadcast" in sql]
    assert len(inserts) == 2 and "notificationpreference" in insert
    assert dan.live_notifications.count() == (default != "off")
    read_broadcasts()
    assert sorted(Notification.objects.values_list("recipient__username", "silent")) == expected


def test_broadcast_in_the_database_ignores_preferences_of_mandatory_types(users):
    _ana, bob, _cid = users
    prefer(bob, "security", "off")
    with override_settings(LIVE_NOTIFY={"MANDATORY_TYPES": ["security"]}):
        assert broadcast(title="Password policy", notification_type="security") == 3
    assert read_broadcasts() == 3
    assert not Notification.objects.filter(silent=True).exists()


def test_rules_respect_preferences(users):
    ana, bob, _cid = users
    prefer(bob, "ticket", "off")
    before = list(registry)
    register(Ticket, on="created", recipients=lambda ticket, event: [ana, bob], notification_type="ticket", title="t")
    try:
        Ticket.objects.create(reporter=ana, title="x")
    finally:
        for rule in registry:
            if rule not in before:
                unregister(rule)
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["ana"]


@pytest.mark.django_db(transaction=True)
async def test_a_stored_only_notification_reaches_sockets_as_a_count_only():
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    await sync_to_async(prefer)(ana, "comment", "store")
    ana_socket, bob_socket = await open_socket(ana), await open_socket(bob)

    await anotify([ana, bob], title="New comment", notification_type="comment")

    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 1}
    assert (await receive_frame(bob_socket))["type"] == "notification"
    assert await receive_frame(bob_socket) == {"type": "unread_count", "count": 1}
    assert await ana_socket.receive_nothing(0.2)

    # Nor is it replayed on resume: it never toasts.
    await ana_socket.send_json_to({"type": "resume", "last_id": 0})
    assert await receive_frame(ana_socket) == {"type": "resumed", "count": 0, "complete": True}
    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 1}

    assert await abroadcast(title="Everyone", notification_type="comment") == 2
    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 2}
    assert (await receive_frame(bob_socket))["type"] == "notification"
    for socket in (ana_socket, bob_socket):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_recovery_sweep_does_not_send_silent_rows():
    from django_live_notify.hub import get_hub

    ana = await sync_to_async(make_user)("ana")
    await sync_to_async(prefer)(ana, "comment", "store")
    socket = await open_socket(ana)
    hub = await get_hub()
    await hub.recover()  # Sets the watermark.
    await anotify(ana, title="quiet", notification_type="comment")
    await receive_frame(socket)  # unread_count

    with override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 0.01, "IDLE_TIMEOUT": 60}):
        await asyncio.sleep(0.1)
        assert await hub.recover() == 0
        # A live row stored with its live send lost is what the sweep is for.
        await sync_to_async(Notification.objects.update)(silent=False)
        assert await hub.recover() == 1
    assert (await receive_frame(socket))["notification"]["title"] == "quiet"
    await socket.disconnect()


# --------------------------------------------------------------------------- the preferences module


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_set_preferences_validates_everything_before_saving(users):
    ana = users[0]
    for changes, message in [
        ({"comment": "loud"}, "must be one of live, store, off"),
        ({"chat": "off"}, "Unknown notification type 'chat'"),
        ({"security": "off"}, "mandatory"),
        ({"comment": "off", "security": "store"}, "mandatory"),
    ]:
        with pytest.raises(PreferenceError, match=message):
            set_preferences(ana, changes)
    assert not NotificationPreference.objects.exists()

    set_preferences(ana, {"comment": "off", "security": "live"})
    set_preferences(ana, {"comment": "store", "system": "off"})
    assert dict(ana.live_notify_preferences.values_list("notification_type", "delivery")) == {
        "comment": "store",
        "system": "off",
    }
    set_preferences(ana, {"system": None})
    assert list(ana.live_notify_preferences.values_list("notification_type", flat=True)) == ["comment"]


def test_without_configured_types_the_user_sees_the_types_they_have(users):
    ana = users[0]
    notify(ana, title="t", notification_type="comment")
    prefer(ana, "chat", "off")
    with override_settings(LIVE_NOTIFY={"MANDATORY_TYPES": ["security"]}):
        rows = preferences_for(ana)
    assert [(row["notification_type"], row["delivery"], row["mandatory"]) for row in rows] == [
        ("chat", "off", False),
        ("comment", "live", False),
        ("security", "live", True),
    ]


# --------------------------------------------------------------------------- the page


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_the_page_shows_every_type_with_mandatory_ones_disabled(users):
    ana = users[0]
    prefer(ana, "comment", "store")
    response = logged_in(ana).get(reverse("live_notify:preferences"))

    assert response.status_code == 200
    assert response.templates[0].name == "django_live_notify/preferences.html"
    content = response.content.decode()
    assert 'name="delivery:comment" value="store" aria-label="Comment: Stored only, no toast" checked' in content
    assert 'name="delivery:security" value="live" aria-label="Security: Live and stored" checked disabled' in content
    assert "Always delivered" in content


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_the_page_saves_and_a_choice_of_the_default_follows_it(users):
    ana = users[0]
    prefer(ana, "system", "off")
    client = logged_in(ana)
    response = client.post(
        reverse("live_notify:preferences"), {"delivery:comment": "off", "delivery:system": "live"}, follow=True
    )

    assert response.redirect_chain == [("/notifications/preferences/?saved=1", 302)]
    assert "Your preferences were saved." in response.content.decode()
    assert dict(ana.live_notify_preferences.values_list("notification_type", "delivery")) == {"comment": "off"}


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_the_page_refuses_turning_off_a_mandatory_type(users):
    response = logged_in(users[0]).post(reverse("live_notify:preferences"), {"delivery:security": "off"})
    assert response.status_code == 400
    assert "mandatory" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_the_page_needs_login_and_csrf(users):
    response = Client().get(reverse("live_notify:preferences"))
    assert response.status_code == 302 and "login" in response["Location"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[0])
    assert client.post(reverse("live_notify:preferences"), {"delivery:x": "off"}).status_code == 403
    assert not NotificationPreference.objects.exists()


def test_the_page_template_can_be_overridden(users, settings, tmp_path):
    (tmp_path / "django_live_notify").mkdir()
    (tmp_path / "django_live_notify" / "preferences.html").write_text(
        "{% for row in preferences %}{{ row.notification_type }}={{ row.delivery }};{% endfor %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    notify(users[0], title="t", notification_type="comment")
    assert logged_in(users[0]).get(reverse("live_notify:preferences")).content == b"comment=live;"


# --------------------------------------------------------------------------- the JSON API


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_the_api_returns_the_map(users):
    ana = users[0]
    prefer(ana, "comment", "off")
    response = logged_in(ana).get(reverse("live_notify:api_preferences"))

    assert response.status_code == 200
    assert response.json() == {
        "preferences": {
            "system": {"label": "System", "delivery": "live", "default": "live", "mandatory": False},
            "comment": {"label": "Comment", "delivery": "off", "default": "live", "mandatory": False},
            "security": {"label": "Security", "delivery": "live", "default": "live", "mandatory": True},
        },
        "deliveries": ["live", "store", "off"],
    }


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
def test_the_api_changes_with_json_or_a_form(users):
    client = logged_in(users[0])
    url = reverse("live_notify:api_preferences")

    response = client.post(url, {"comment": "store", "system": "off"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["preferences"]["comment"]["delivery"] == "store"

    response = client.post(url, {"comment": ""})  # A form: empty means the default.
    assert response.json()["preferences"]["comment"]["delivery"] == "live"
    response = client.post(url, {"system": None}, content_type="application/json")
    assert response.json()["preferences"]["system"]["delivery"] == "live"
    assert not NotificationPreference.objects.exists()


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES, "MANDATORY_TYPES": ["security"]})
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"comment": "loud"}', "Delivery of 'comment' must be one of live, store, off, not 'loud'."),
        ('{"security": "off"}', "'security' notifications are mandatory: they cannot be 'off'."),
        ('{"security": "store"}', "'security' notifications are mandatory: they cannot be 'store'."),
        ('{"nope": "off"}', "Unknown notification type 'nope'; known types: comment, security, system."),
        ('["comment"]', 'Send a JSON object: {"<type>": "live" | "store" | "off" | null}.'),
        ("{", "The body is not valid JSON."),
        ('{"comment": 3}', "Delivery of 'comment' must be one of live, store, off, not 3."),
    ],
)
def test_the_api_answers_bad_input_with_400(users, body, error):
    response = logged_in(users[0]).post(reverse("live_notify:api_preferences"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not NotificationPreference.objects.exists()


def test_the_api_is_json_for_anonymous_users_and_other_methods(users):
    url = reverse("live_notify:api_preferences")
    assert Client().get(url).status_code == 403
    response = logged_in(users[0]).delete(url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"


def test_the_api_enforces_csrf(users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[0])
    response = client.post(reverse("live_notify:api_preferences"), {"x": "off"}, content_type="application/json")
    assert response.status_code == 403
    assert not NotificationPreference.objects.exists()


# --------------------------------------------------------------------------- bounds


def api_post(user, body):
    return logged_in(user).post(reverse("live_notify:api_preferences"), body, content_type="application/json")


@override_settings(LIVE_NOTIFY={"MAX_PREFERENCES": 5})
def test_without_configured_types_one_request_cannot_store_thousands_of_invented_types(users):
    ana = users[0]
    response = api_post(ana, {f"invented{index}": "off" for index in range(33_000)})

    assert response.status_code == 400
    assert response.json() == {
        "error": "At most 5 notification types can have a preference; this change would make 33000. "
        "Set some types back to their default first."
    }
    assert not NotificationPreference.objects.exists()


@override_settings(LIVE_NOTIFY={"MAX_PREFERENCES": 3})
def test_the_bound_counts_rows_after_the_change_and_going_back_to_defaults_always_works(users):
    ana, bob = users[0], users[1]
    assert api_post(ana, {"a": "off", "b": "off", "c": "store"}).status_code == 200
    assert api_post(bob, {"a": "off"}).status_code == 200  # Another user's rows do not count.

    assert api_post(ana, {"d": "off"}).status_code == 400
    assert api_post(ana, {"a": "live", "b": "store"}).status_code == 200  # Changing existing rows adds none.
    assert api_post(ana, {"a": None, "d": "off"}).status_code == 200  # One out, one in.
    assert sorted(ana.live_notify_preferences.values_list("notification_type", flat=True)) == ["b", "c", "d"]

    with override_settings(LIVE_NOTIFY={"MAX_PREFERENCES": 1}):
        # Over a lowered bound: changing and removing still work, adding does not.
        assert api_post(ana, {"b": "off"}).status_code == 200
        assert api_post(ana, {"c": None}).status_code == 200
        assert api_post(ana, {"e": "off"}).status_code == 400
    assert sorted(ana.live_notify_preferences.values_list("notification_type", flat=True)) == ["b", "d"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"a b": "off"}, "'a b' is not a notification type: type names are letters, digits and the characters _"),
        ({"<script>": "off"}, "'<script>' is not a notification type"),
        ({"x\u0000": "off"}, "'x\\x00' is not a notification type"),
        ({"x" * 65: "off"}, "Notification types are strings of 1 to 64 characters."),
        ({"": "off"}, "Notification types are strings of 1 to 64 characters."),
    ],
)
def test_without_configured_types_names_that_cannot_be_types_are_refused(users, body, error):
    response = api_post(users[0], {"comment": "off", **body})

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not NotificationPreference.objects.exists()


def test_without_configured_types_any_type_the_page_lists_stays_settable(users):
    ana = users[0]
    notify(ana, title="t", notification_type="Order shipped!")
    assert [row["notification_type"] for row in preferences_for(ana)] == ["Order shipped!"]

    response = logged_in(ana).post(reverse("live_notify:preferences"), {"delivery:Order shipped!": "off"})

    assert response.status_code == 302
    assert dict(ana.live_notify_preferences.values_list("notification_type", "delivery")) == {"Order shipped!": "off"}
    assert api_post(ana, {"Order shipped!": "store", "billing.invoice:paid-2": "off"}).status_code == 200


@override_settings(LIVE_NOTIFY={"MAX_PREFERENCES": 2})
def test_the_page_refuses_past_the_bound_and_invented_names_and_stores_nothing(users):
    ana = users[0]
    client = logged_in(ana)
    url = reverse("live_notify:preferences")

    response = client.post(url, {"delivery:a": "off", "delivery:b": "off", "delivery:c": "off"})
    assert response.status_code == 400
    assert "At most 2 notification types can have a preference" in response.content.decode()

    response = client.post(url, {"delivery:a": "off", "delivery:no such type": "off"})
    assert response.status_code == 400
    assert "is not a notification type" in response.content.decode()
    assert not NotificationPreference.objects.exists()


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": TYPES})
def test_with_configured_types_an_unknown_type_among_good_ones_stores_nothing(users):
    response = api_post(users[0], {"comment": "off", "system": "store", "invented": "off"})

    assert response.status_code == 400
    assert response.json()["error"].startswith("Unknown notification type 'invented'")
    assert not NotificationPreference.objects.exists()
