"""Actions: buttons on notifications; POST ones run a registered handler and mark the notification read."""

import json
import types

import pytest
from asgiref.sync import sync_to_async
from django.http import HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import reverse

from django_live_notify import actions, anotify, notify
from django_live_notify.actions import action
from django_live_notify.models import Notification
from tests.conftest import make_user, open_socket

ACCEPT = {"label": "Accept", "method": "POST", "name": "accept", "style": "primary"}
VIEW = {"label": "View", "url": "/requests/7/"}


@pytest.fixture(autouse=True)
def handlers():
    """Register the test handlers; record what they were called with."""
    calls = []

    @action("accept")
    def accept(request, notification):
        calls.append((request.user.username, notification.pk, notification.is_read))
        return {"accepted": notification.data.get("request")}

    @action("refuse")
    def refuse(request, notification):
        return JsonResponse({"error": "Too late."}, status=409)

    @action("custom")
    def custom(request, notification):
        return HttpResponse("custom body")

    yield calls
    for name in ("accept", "refuse", "custom"):
        actions.unregister(name)


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def json_post(client, url, **kwargs):
    return client.post(url, HTTP_ACCEPT="application/json", **kwargs)


@pytest.fixture
def ana(db):
    return make_user("ana")


@pytest.fixture
def bob(db):
    return make_user("bob")


def offer(user, *extra):
    return notify(user, title="New request", data={"request": 7}, actions=[ACCEPT, VIEW, *extra])


# --------------------------------------------------------------------------- storing and payloads


def test_actions_are_stored_and_sent_with_the_endpoint_url(ana):
    notification = offer(ana)
    assert notification.actions == [
        {"label": "Accept", "method": "POST", "style": "primary", "name": "accept"},
        {"label": "View", "method": "GET", "url": "/requests/7/"},
    ]
    assert notification.to_payload()["actions"] == [
        {
            "label": "Accept",
            "url": f"/notifications/{notification.pk}/actions/accept/",
            "method": "POST",
            "style": "primary",
            "name": "accept",
        },
        {"label": "View", "url": "/requests/7/", "method": "GET", "style": "", "name": ""},
    ]


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ("accept", TypeError, "actions must be a list"),
        (["accept"], TypeError, "Each action must be a dict"),
        ([{"url": "/x/"}], ValueError, "non-empty label"),
        ([{"label": "x" * 101, "url": "/x/"}], ValueError, "at most 100"),
        ([{"label": "Go", "url": "/x/", "method": "DELETE"}], ValueError, "'GET' or 'POST'"),
        ([{"label": "Go"}], ValueError, "needs a url"),
        ([{"label": "Go", "url": "javascript:alert(1)"}], ValueError, "relative or http"),
        ([{"label": "Go", "url": "/x/", "name": "accept"}], ValueError, "give it a url, not a name"),
        ([{"label": "Go", "method": "POST", "name": "nope"}], ValueError, "registered handler"),
        ([{"label": "Go", "method": "POST", "name": "accept", "url": "/x/"}], ValueError, "not a url"),
        ([{"label": "Go", "url": "/x/", "style": 'x" onclick="y'}], ValueError, "CSS class"),
        ([{"label": "Go", "url": "/x/", "icon": "bell"}], ValueError, "Unknown action key"),
        ([VIEW, VIEW, VIEW, VIEW], ValueError, "at most 3 actions"),
    ],
)
def test_bad_actions_raise_and_store_nothing(ana, given, error, message):
    with pytest.raises(error, match=message):
        notify(ana, title="t", actions=given)
    assert not Notification.objects.exists()


@override_settings(LIVE_NOTIFY={"MAX_ACTIONS": 1})
def test_max_actions_is_a_setting(ana):
    with pytest.raises(ValueError, match="at most 1 actions"):
        offer(ana)


def test_post_actions_need_the_apps_urls(ana):
    without_the_app = types.ModuleType("without_the_app")
    without_the_app.urlpatterns = []
    with override_settings(ROOT_URLCONF=without_the_app), pytest.raises(ValueError, match="include"):
        notify(ana, title="t", actions=[ACCEPT])


def test_a_name_has_one_handler():
    with pytest.raises(ValueError, match="already has a handler"):
        actions.register("accept", lambda request, notification: None)

    def accept(request, notification):
        return "again"

    accept.__qualname__ = "handlers.<locals>.accept"
    actions.register("accept", accept)  # The same function defined again, as a re-imported module does.
    assert actions.get_handler("accept") is accept
    with pytest.raises(ValueError, match="letters, digits"):
        actions.register("not a slug", lambda request, notification: None)
    with pytest.raises(LookupError):
        actions.unregister("never-registered")


@pytest.mark.django_db(transaction=True)
async def test_the_live_frame_carries_each_recipients_own_action_url():
    users = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    sockets = [await open_socket(user) for user in users]
    rows = await anotify(users, title="Offer", actions=[VIEW, ACCEPT])
    for row, socket in zip(rows, sockets, strict=True):
        frame = json.loads(await socket.receive_from(2))
        stored = await sync_to_async(lambda row=row: Notification.objects.get(pk=row.pk).to_payload())()
        assert frame["notification"] == stored
        assert frame["notification"]["actions"][1]["url"] == f"/notifications/{row.pk}/actions/accept/"
        await socket.receive_from(2)  # unread_count
        await socket.disconnect()


# --------------------------------------------------------------------------- the endpoint


def test_a_post_action_runs_its_handler_and_marks_the_notification_read(ana, handlers):
    notification = offer(ana)
    response = json_post(logged_in(ana), reverse("live_notify:action", args=[notification.pk, "accept"]))

    assert response.status_code == 200
    assert response.json() == {
        "id": notification.pk,
        "action": "accept",
        "is_read": True,
        "unread_count": 0,
        "outcome": {"action": "accept", "label": "Done"},
        "result": {"accepted": 7},
    }
    assert handlers == [("ana", notification.pk, False)]
    notification.refresh_from_db()
    assert notification.is_read


def test_a_form_post_redirects_back(ana):
    notification = offer(ana)
    response = logged_in(ana).post(
        reverse("live_notify:action", args=[notification.pk, "accept"]),
        {"next": "/notifications/?page=2"},
        HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8",
    )
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?page=2"


def test_an_error_response_of_the_handler_is_returned_and_leaves_it_unread(ana):
    notification = offer(ana, {"label": "Refuse", "method": "POST", "name": "refuse"})
    response = json_post(logged_in(ana), reverse("live_notify:action", args=[notification.pk, "refuse"]))
    assert (response.status_code, response.json()) == (409, {"error": "Too late."})
    notification.refresh_from_db()
    assert not notification.is_read


def test_a_response_of_the_handler_is_returned(ana):
    notification = offer(ana, {"label": "Custom", "method": "POST", "name": "custom"})
    response = json_post(logged_in(ana), reverse("live_notify:action", args=[notification.pk, "custom"]))
    assert response.content == b"custom body"
    notification.refresh_from_db()
    assert notification.is_read


def test_another_users_notification_and_unknown_actions_answer_the_same_404(ana, bob, handlers):
    bobs = offer(bob)
    anas = offer(ana)
    notify(ana, title="without actions")
    client = logged_in(ana)
    answers = []
    for pk, name in [
        (bobs.pk, "accept"),  # another user's
        (anas.pk, "refuse"),  # registered, but not an action of this notification
        (anas.pk, "nope"),  # no such handler
        (anas.pk + 1, "accept"),  # a notification without actions
        (10**9, "accept"),  # no such notification
    ]:
        response = json_post(client, reverse("live_notify:action", args=[pk, name]))
        answers.append((response.status_code, response.content))
    assert answers == [(404, b'{"error": "Not found."}')] * 5
    assert handlers == []
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_the_html_404_is_the_same_for_every_reason(ana, bob):
    bobs, anas = offer(bob), offer(ana)
    client = logged_in(ana)
    html = {"HTTP_ACCEPT": "text/html"}
    foreign = client.post(reverse("live_notify:action", args=[bobs.pk, "accept"]), **html)
    unknown = client.post(reverse("live_notify:action", args=[anas.pk, "nope"]), **html)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.content == unknown.content


def test_get_is_405_and_anonymous_is_403(ana, handlers):
    notification = offer(ana)
    url = reverse("live_notify:action", args=[notification.pk, "accept"])
    response = logged_in(ana).get(url)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert Client().post(url).status_code == 403
    assert handlers == []


def test_csrf_is_enforced(ana, handlers):
    notification = offer(ana)
    client = logged_in(ana, enforce_csrf_checks=True)
    response = json_post(client, reverse("live_notify:action", args=[notification.pk, "accept"]))
    assert response.status_code == 403
    assert handlers == []
    notification.refresh_from_db()
    assert not notification.is_read


def test_an_expired_notifications_actions_are_gone(ana, handlers):
    from datetime import timedelta

    from django.utils import timezone

    notification = notify(ana, title="t", actions=[ACCEPT], expires_at=timezone.now() + timedelta(hours=1))
    Notification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = json_post(logged_in(ana), reverse("live_notify:action", args=[notification.pk, "accept"]))
    assert response.status_code == 404
    assert handlers == []


@pytest.mark.django_db(transaction=True)
async def test_running_an_action_updates_the_users_sockets():
    ana = await sync_to_async(make_user)("ana")
    notification = await sync_to_async(offer)(ana)
    socket = await open_socket(ana)
    client = await sync_to_async(logged_in)(ana)
    url = reverse("live_notify:action", args=[notification.pk, "accept"])

    response = await sync_to_async(json_post)(client, url)

    assert response.status_code == 200
    assert json.loads(await socket.receive_from(2)) == {
        "type": "action_outcome",
        "id": notification.pk,
        "outcome": {"action": "accept", "label": "Done"},
    }
    assert json.loads(await socket.receive_from(2)) == {"type": "read", "ids": [notification.pk]}
    assert json.loads(await socket.receive_from(2)) == {"type": "unread_count", "count": 0}
    await socket.disconnect()


# --------------------------------------------------------------------------- the history page


def test_the_history_page_renders_actions_as_buttons_and_links(ana):
    notification = offer(ana)
    content = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    action_url = f"/notifications/{notification.pk}/actions/accept/"
    assert f'<form class="live-notify-form live-notify-form--action" method="post" action="{action_url}">' in content
    assert '<button type="submit" class="live-notify-action live-notify-action--primary">Accept</button>' in content
    assert '<a class="live-notify-action" href="/requests/7/">View</a>' in content


def test_the_history_page_does_not_link_unsafe_stored_urls(ana):
    notification = notify(ana, title="t")
    Notification.objects.filter(pk=notification.pk).update(
        actions=[{"label": "Evil", "method": "GET", "url": "javascript:alert(1)"}]
    )
    content = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    assert "javascript:" not in content
