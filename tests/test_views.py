"""The history page and the JSON API."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_live_notify import notify
from django_live_notify.models import Notification
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket
from tests.testapp.models import Thing

XSS = "<img src=x onerror=alert(1)>"


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def make_notifications(user, count, **kwargs):
    return [notify(user, title=f"N{index}", **kwargs) for index in range(count)]


def ids(response):
    return [result["id"] for result in response.json()["results"]]


@pytest.fixture
def ana(db):
    return make_user("ana")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def ana_client(ana):
    return logged_in(ana)


# --------------------------------------------------------------------------- history page


def test_list_shows_the_users_notifications_newest_first(ana, bob, ana_client):
    notify(ana, title="Older", message="First message", sender=bob)
    notify(ana, title="Newer", url="/things/7/")
    notify(bob, title="Bob's secret")
    response = ana_client.get(reverse("live_notify:list"))
    assert response.status_code == 200
    assert response.templates[0].name == "django_live_notify/notification_list.html"
    content = response.content.decode()
    assert content.index("Newer") < content.index("Older")
    assert "First message" in content
    assert "bob" in content  # the sender's name
    assert '<a href="/things/7/">Newer</a>' in content
    assert "just now" in content and "0 minutes" not in content
    assert "Bob&#x27;s secret" not in content and "Bob's secret" not in content
    assert response["Cache-Control"].startswith("max-age=0")


def test_list_has_mark_read_forms_for_unread_items_and_a_mark_all_form(ana, ana_client):
    unread, read = notify(ana, title="Unread"), notify(ana, title="Read")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created)
    content = ana_client.get(reverse("live_notify:list")).content.decode()
    assert f'action="{reverse("live_notify:mark_read", args=[unread.pk])}"' in content
    assert f'action="{reverse("live_notify:mark_read", args=[read.pk])}"' not in content
    assert f'action="{reverse("live_notify:mark_all_read")}"' in content
    assert "csrfmiddlewaretoken" in content
    assert "live-notify-item--unread" in content and "live-notify-item--read" in content


def test_list_is_paginated(ana, ana_client):
    created = make_notifications(ana, 5)
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 2}):
        first = ana_client.get(reverse("live_notify:list"))
        last = ana_client.get(reverse("live_notify:list"), {"page": 3})
        beyond = ana_client.get(reverse("live_notify:list"), {"page": "99"})
    assert [n.pk for n in first.context["notifications"]] == [created[4].pk, created[3].pk]
    assert [n.pk for n in last.context["notifications"]] == [created[0].pk]
    assert 'rel="next" href="?page=2"' in first.content.decode()
    assert beyond.context["page_obj"].number == 3  # the page forgives, the API does not


def test_list_filters_by_unread_and_type(ana, ana_client):
    notify(ana, title="Unread message", notification_type="message")
    read_message = notify(ana, title="Read message", notification_type="message")
    notify(ana, title="Unread alert", notification_type="alert")
    Notification.objects.filter(pk=read_message.pk).update(read_at=read_message.created)

    def titles(**params):
        response = ana_client.get(reverse("live_notify:list"), params)
        return [n.title for n in response.context["notifications"]]

    assert titles(unread="1") == ["Unread alert", "Unread message"]
    assert titles(type="message") == ["Read message", "Unread message"]
    assert titles(type="message", unread="1") == ["Unread message"]
    assert titles(type="nothing") == []
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 1}):
        content = ana_client.get(reverse("live_notify:list"), {"type": "message", "unread": "1"}).content.decode()
    assert "No notifications match" not in content


def test_list_type_filter_offers_the_users_types(ana, bob, ana_client):
    notify(ana, title="A", notification_type="message")
    notify(bob, title="B", notification_type="bobs_only")
    response = ana_client.get(reverse("live_notify:list"))
    assert response.context["type_choices"] == [("message", "Message")]
    assert "bobs_only" not in response.content.decode()


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("message", "Message"), ("alert", "Alert")]})
def test_list_type_filter_offers_the_configured_types(ana_client):
    response = ana_client.get(reverse("live_notify:list"), {"type": "alert"})
    content = response.content.decode()
    assert '<option value="message">Message</option>' in content
    assert '<option value="alert" selected>Alert</option>' in content


def test_list_escapes_notification_text(ana, ana_client):
    row = notify(ana, title=XSS, message=XSS)
    Notification.objects.filter(pk=row.pk).update(url="javascript:alert(1)")  # A row from before notify() checked.
    content = ana_client.get(reverse("live_notify:list")).content.decode()
    assert XSS not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "javascript:" not in content  # an unsafe URL is not linked


def test_list_redirects_anonymous_users_to_login(client):
    response = client.get(reverse("live_notify:list"))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/notifications/"


def test_list_refuses_post(ana_client):
    assert ana_client.post(reverse("live_notify:list")).status_code == 405


# --------------------------------------------------------------------------- HTML mark read


def test_mark_read_redirects_to_a_safe_next(ana, ana_client):
    notification = notify(ana, title="T")
    url = reverse("live_notify:mark_read", args=[notification.pk])
    response = ana_client.post(url, {"next": "/notifications/?page=2"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?page=2"
    notification.refresh_from_db()
    assert notification.is_read


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", ""])
def test_mark_read_ignores_an_unsafe_next(ana, ana_client, next_url):
    notification = notify(ana, title="T")
    response = ana_client.post(reverse("live_notify:mark_read", args=[notification.pk]), {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("live_notify:list")


def test_mark_read_of_a_foreign_id_answers_like_a_missing_one(ana, bob, ana_client):
    bobs = notify(bob, title="Bob's")
    foreign = ana_client.post(reverse("live_notify:mark_read", args=[bobs.pk]))
    missing = ana_client.post(reverse("live_notify:mark_read", args=[bobs.pk + 1000]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    bobs.refresh_from_db()
    assert not bobs.is_read


def test_mark_all_read_marks_only_the_users_notifications(ana, bob, ana_client):
    make_notifications(ana, 3)
    notify(bob, title="Bob's")
    response = ana_client.post(reverse("live_notify:mark_all_read"), {"next": "/notifications/?unread=1"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?unread=1"
    assert Notification.objects.for_user(ana).unread().count() == 0
    assert Notification.objects.for_user(bob).unread().count() == 1


@pytest.mark.parametrize("name", ["live_notify:mark_read", "live_notify:mark_all_read"])
def test_html_mark_views_refuse_get(ana, ana_client, name):
    notification = notify(ana, title="T")
    args = [notification.pk] if name == "live_notify:mark_read" else []
    assert ana_client.get(reverse(name, args=args)).status_code == 405
    notification.refresh_from_db()
    assert not notification.is_read


def test_html_mark_read_redirects_anonymous_users_to_login(ana, client):
    notification = notify(ana, title="T")
    response = client.post(reverse("live_notify:mark_read", args=[notification.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    notification.refresh_from_db()
    assert not notification.is_read


def test_html_mark_read_needs_the_csrf_token(ana):
    notification = notify(ana, title="T")
    client = logged_in(ana, enforce_csrf_checks=True)
    url = reverse("live_notify:mark_read", args=[notification.pk])
    assert client.post(url).status_code == 403
    notification.refresh_from_db()
    assert not notification.is_read
    client.get(reverse("live_notify:list"))  # sets the CSRF cookie
    response = client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.is_read


# --------------------------------------------------------------------------- JSON list


def test_api_list_returns_payloads_newest_first(ana, bob, ana_client):
    thing = Thing.objects.create(name="sink")
    first = notify(ana, title="First", sender=bob, target=thing, data={"k": 1})
    second = notify(ana, title="Second")
    notify(bob, title="Bob's")
    response = ana_client.get(reverse("live_notify:api_list"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["unread_count"] == 2
    assert body["next"] is None and body["previous"] is None
    assert ids(response) == [second.pk, first.pk]
    stored = Notification.objects.get(pk=first.pk).to_payload()
    assert body["results"][1] == json.loads(json.dumps(stored))
    assert body["results"][1]["sender"] == {"id": bob.pk, "name": "bob"}
    assert body["results"][1]["target"] == {"type": "testapp.thing", "id": str(thing.pk)}
    assert "no-store" in response["Cache-Control"]


def test_api_list_is_paginated_with_next_and_previous_links(ana, ana_client):
    created = make_notifications(ana, 5)
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 2}):
        first = ana_client.get(reverse("live_notify:api_list"), {"unread": "1"})
        second = ana_client.get(first.json()["next"])
        last = ana_client.get(second.json()["next"])
        beyond = ana_client.get(reverse("live_notify:api_list"), {"page": "4"})
    assert ids(first) == [created[4].pk, created[3].pk]
    assert ids(second) == [created[2].pk, created[1].pk]
    assert ids(last) == [created[0].pk]
    assert first.json()["next"] == "/notifications/api/?unread=1&page=2"
    assert second.json()["previous"] == "/notifications/api/?unread=1&page=1"
    assert last.json()["next"] is None
    assert first.json()["count"] == last.json()["count"] == 5
    assert beyond.status_code == 404
    assert beyond.json() == {"error": "Page 4 does not exist; there are 3."}


def test_api_list_filters_by_unread_and_type(ana, ana_client):
    unread_message = notify(ana, title="M1", notification_type="message")
    read_message = notify(ana, title="M2", notification_type="message")
    alert = notify(ana, title="A", notification_type="alert")
    Notification.objects.filter(pk=read_message.pk).update(read_at=read_message.created)
    url = reverse("live_notify:api_list")
    assert ids(ana_client.get(url, {"unread": "1"})) == [alert.pk, unread_message.pk]
    assert ids(ana_client.get(url, {"unread": "0"})) == [alert.pk, read_message.pk, unread_message.pk]
    assert ids(ana_client.get(url, {"type": "message"})) == [read_message.pk, unread_message.pk]
    both = ana_client.get(url, {"type": "message", "unread": "true"})
    assert ids(both) == [unread_message.pk]
    assert both.json()["count"] == 1
    assert both.json()["unread_count"] == 2  # the user's total, not the filtered one


def test_api_list_after_an_id_is_oldest_first(ana, ana_client):
    created = make_notifications(ana, 6)
    after = created[1].pk
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 3}):
        first = ana_client.get(reverse("live_notify:api_list"), {"after": after})
        second = ana_client.get(first.json()["next"])
    assert ids(first) == [created[2].pk, created[3].pk, created[4].pk]
    assert ids(second) == [created[5].pk]
    assert first.json()["count"] == 4
    assert first.json()["next"] == f"/notifications/api/?after={after}&page=2"
    assert ids(ana_client.get(reverse("live_notify:api_list"), {"after": created[5].pk})) == []
    assert len(ids(ana_client.get(reverse("live_notify:api_list"), {"after": 0}))) == 6


def test_api_list_after_never_returns_other_users_rows(ana, bob, ana_client):
    notify(ana, title="Ana's")
    bobs = notify(bob, title="Bob's")
    response = ana_client.get(reverse("live_notify:api_list"), {"after": 0})
    assert bobs.pk not in ids(response)
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"after": "abc"}, "after must be a non-negative integer, not 'abc'."),
        ({"after": "-1"}, "after must be a non-negative integer, not '-1'."),
        ({"after": "1.5"}, "after must be a non-negative integer, not '1.5'."),
        ({"after": " 1"}, "after must be a non-negative integer, not ' 1'."),
        ({"after": "1_000"}, "after must be a non-negative integer, not '1_000'."),
        ({"after": "9" * 30}, "after must be a non-negative integer, not '99999999999999999999'."),
        ({"page": "0"}, "page must be a positive integer, not '0'."),
        ({"page": "x"}, "page must be a positive integer, not 'x'."),
        ({"page": "-2"}, "page must be a positive integer, not '-2'."),
        ({"unread": "maybe"}, "unread must be 1 or 0 (or true or false)."),
        ({"type": "a\x00b"}, "type must not contain NUL characters."),
    ],
)
def test_api_list_rejects_invalid_parameters(ana, ana_client, params, message):
    notification = notify(ana, title="T")
    response = ana_client.get(reverse("live_notify:api_list"), params)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    notification.refresh_from_db()
    assert not notification.is_read


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("message", "Message"), ("alert", "Alert")]})
def test_api_list_rejects_a_type_that_is_not_configured(ana_client):
    response = ana_client.get(reverse("live_notify:api_list"), {"type": "other"})
    assert response.status_code == 400
    assert response.json() == {"error": "type must be one of: message, alert."}
    assert ana_client.get(reverse("live_notify:api_list"), {"type": "alert"}).status_code == 200


def test_list_page_ignores_a_type_with_a_nul_character(ana, ana_client):
    notify(ana, title="shown anyway")
    response = ana_client.get(reverse("live_notify:list"), {"type": "\x00"})
    assert response.status_code == 200
    assert "shown anyway" in response.content.decode()


def test_api_list_query_count_does_not_grow_with_the_page_size(ana, bob, ana_client):
    thing = Thing.objects.create(name="sink")
    make_notifications(ana, 12, sender=bob, target=thing)

    def queries(page_size, view):
        ContentType.objects.clear_cache()
        with override_settings(LIVE_NOTIFY={"PAGE_SIZE": page_size}), CaptureQueriesContext(connection) as context:
            response = ana_client.get(reverse(view))
        assert response.status_code == 200
        return len(context.captured_queries)

    assert queries(2, "live_notify:api_list") == queries(12, "live_notify:api_list")
    assert queries(2, "live_notify:list") == queries(12, "live_notify:list")


# --------------------------------------------------------------------------- JSON read state


def test_api_unread_count(ana, bob, ana_client):
    make_notifications(ana, 2)
    notify(bob, title="Bob's")
    response = ana_client.get(reverse("live_notify:api_unread_count"))
    assert response.json() == {"count": 2}


def test_api_mark_read(ana, ana_client):
    first, _second = make_notifications(ana, 2)
    url = reverse("live_notify:api_mark_read", args=[first.pk])
    response = ana_client.post(url)
    assert response.status_code == 200
    assert response.json() == {"id": first.pk, "is_read": True, "unread_count": 1}
    # Marking it again changes nothing and answers the same.
    assert ana_client.post(url).json() == {"id": first.pk, "is_read": True, "unread_count": 1}


def test_api_mark_read_of_a_foreign_id_answers_like_a_missing_one(ana, bob, ana_client):
    bobs = notify(bob, title="Bob's")
    foreign = ana_client.post(reverse("live_notify:api_mark_read", args=[bobs.pk]))
    missing = ana_client.post(reverse("live_notify:api_mark_read", args=[bobs.pk + 1000]))
    huge = ana_client.post(f"/notifications/api/{'9' * 30}/read/")
    assert foreign.status_code == missing.status_code == huge.status_code == 404
    assert foreign.content == missing.content == huge.content == b'{"error": "Not found."}'
    bobs.refresh_from_db()
    assert not bobs.is_read


def test_api_mark_all_read(ana, bob, ana_client):
    make_notifications(ana, 3)
    notify(bob, title="Bob's")
    response = ana_client.post(reverse("live_notify:api_mark_all_read"))
    assert response.json() == {"marked": 3, "unread_count": 0}
    assert ana_client.post(reverse("live_notify:api_mark_all_read")).json() == {"marked": 0, "unread_count": 0}
    assert Notification.objects.for_user(bob).unread().count() == 1


@pytest.mark.parametrize("name", ["live_notify:api_mark_read", "live_notify:api_mark_all_read"])
def test_api_mark_views_refuse_get(ana, ana_client, name):
    notification = notify(ana, title="T")
    args = [notification.pk] if name == "live_notify:api_mark_read" else []
    response = ana_client.get(reverse(name, args=args))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"error": "Method GET not allowed."}
    notification.refresh_from_db()
    assert not notification.is_read


@pytest.mark.parametrize("name", ["live_notify:api_list", "live_notify:api_unread_count"])
def test_api_read_views_refuse_post(ana_client, name):
    response = ana_client.post(reverse(name))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "live_notify:api_list", []),
        ("get", "live_notify:api_unread_count", []),
        ("post", "live_notify:api_mark_read", [1]),
        ("post", "live_notify:api_mark_all_read", []),
    ],
)
def test_api_answers_anonymous_users_with_403_json(client, db, method, name, args):
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 403
    assert response.json() == {"error": "Authentication required."}


def test_api_mark_read_needs_the_csrf_token(ana):
    notification = notify(ana, title="T")
    client = logged_in(ana, enforce_csrf_checks=True)
    url = reverse("live_notify:api_mark_read", args=[notification.pk])
    assert client.post(url).status_code == 403
    notification.refresh_from_db()
    assert not notification.is_read
    client.get(reverse("live_notify:list"))  # sets the CSRF cookie
    response = client.post(url, headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.is_read


def test_api_mark_all_read_needs_the_csrf_token(ana):
    make_notifications(ana, 2)
    client = logged_in(ana, enforce_csrf_checks=True)
    assert client.post(reverse("live_notify:api_mark_all_read")).status_code == 403
    assert Notification.objects.for_user(ana).unread().count() == 2


# --------------------------------------------------------------------------- live frames


@pytest.mark.django_db(transaction=True)
async def test_api_mark_read_pushes_read_and_unread_count_to_the_users_sockets():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    first, _second = await sync_to_async(make_notifications)(ana, 2)
    ana_socket, bob_socket = await open_socket(ana), await open_socket(bob)
    client = await sync_to_async(logged_in)(ana)
    response = await sync_to_async(client.post)(reverse("live_notify:api_mark_read", args=[first.pk]))
    assert response.status_code == 200
    assert await receive_frame(ana_socket) == {"type": "read", "ids": [first.pk]}
    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 1}
    response = await sync_to_async(client.post)(reverse("live_notify:api_mark_all_read"))
    assert response.json() == {"marked": 1, "unread_count": 0}
    assert await receive_frame(ana_socket) == {"type": "read", "all": True}
    assert await receive_frame(ana_socket) == {"type": "unread_count", "count": 0}
    assert await bob_socket.receive_nothing(0.2)
    await ana_socket.disconnect()
    await bob_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_html_mark_read_pushes_read_and_unread_count_to_the_users_sockets():
    ana = await sync_to_async(make_user)("ana")
    (notification,) = await sync_to_async(make_notifications)(ana, 1)
    socket = await open_socket(ana)
    client = await sync_to_async(logged_in)(ana)
    response = await sync_to_async(client.post)(reverse("live_notify:mark_read", args=[notification.pk]))
    assert response.status_code == 302
    assert await receive_frame(socket) == {"type": "read", "ids": [notification.pk]}
    assert await receive_frame(socket) == {"type": "unread_count", "count": 0}
    await socket.disconnect()
