"""django-notifications-hq's mark_as_unread and delete (our archive) over HTTP and protocol v1, pushed to every tab."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_live_notify import inbox, reading
from django_live_notify.models import Notification
from django_live_notify.testing import receive_frame as receive
from tests.conftest import make_user, open_socket


def logged_in(user, enforce_csrf_checks=False):
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


def post_json(client, url):
    return client.post(url, "{}", content_type="application/json", HTTP_ACCEPT="application/json")


def store(user, title="Hello", **extra):
    return Notification.objects.create(recipient=user, title=title, **extra)


def state(row):
    row.refresh_from_db()
    return (row.read_at, row.archived_at, row.snoozed_until, row.seen_at)


@pytest.fixture
def ana(db):
    return make_user("ana")


@pytest.fixture
def bob(db):
    return make_user("bob")


# --------------------------------------------------------------------------- the JSON API


def test_mark_unread_makes_a_read_row_unread_and_answers_the_new_count(ana):
    row = store(ana, read_at=timezone.now(), seen_at=timezone.now())
    store(ana)

    response = post_json(logged_in(ana), reverse("live_notify:api_mark_unread", args=[row.pk]))

    assert response.status_code == 200
    assert response.json() == {"id": row.pk, "is_read": False, "unread_count": 2}
    read_at, archived_at, snoozed_until, seen_at = state(row)
    assert (read_at, archived_at, snoozed_until) == (None, None, None)
    assert seen_at is not None, "marking unread is not news: the unseen count stays"


def test_mark_unread_of_an_unread_row_is_a_200_that_changes_nothing(ana):
    row = store(ana)
    before = state(row)
    response = post_json(logged_in(ana), reverse("live_notify:api_mark_unread", args=[row.pk]))
    assert (response.status_code, response.json()["unread_count"]) == (200, 1)
    assert state(row) == before


@pytest.mark.parametrize(
    "hidden",
    [
        {"archived_at": timezone.now()},
        {"snoozed_until": timezone.now() + timedelta(hours=3)},
    ],
    ids=["archived", "snoozed"],
)
def test_an_archived_or_snoozed_row_marked_unread_comes_back_to_the_feed(ana, hidden):
    row = store(ana, read_at=timezone.now(), seen_at=timezone.now(), **hidden)
    client = logged_in(ana)
    assert not inbox.feed(ana, "unread").exists()

    body = post_json(client, reverse("live_notify:api_mark_unread", args=[row.pk])).json()

    assert body["unread_count"] == 1
    assert list(inbox.feed(ana, "unread").values_list("pk", flat=True)) == [row.pk]
    assert reading.unread_count(ana) == inbox.feed(ana, "unread").count()


@pytest.mark.parametrize("name", ["api_mark_unread", "api_archive"])
def test_another_users_row_answers_exactly_like_a_missing_one(ana, bob, name):
    theirs = store(bob, read_at=timezone.now())
    before = state(theirs)
    client = logged_in(ana)

    foreign = post_json(client, reverse(f"live_notify:{name}", args=[theirs.pk]))
    missing = post_json(client, reverse(f"live_notify:{name}", args=[theirs.pk + 1000]))

    answers = [(response.status_code, response.json(), sorted(response.headers)) for response in (foreign, missing)]
    assert answers[0] == answers[1]
    assert answers[0][:2] == (404, {"error": "Not found."})
    assert state(theirs) == before


def test_an_id_past_the_column_is_not_found_not_a_server_error(ana):
    response = post_json(logged_in(ana), f"/notifications/api/{10**30}/unread/")
    assert (response.status_code, response.json()) == (404, {"error": "Not found."})


def test_mark_unread_needs_post_csrf_and_a_user(ana):
    row = store(ana, read_at=timezone.now())
    before = state(row)
    url = reverse("live_notify:api_mark_unread", args=[row.pk])

    assert Client().post(url).status_code == 403
    get = logged_in(ana).get(url)
    assert (get.status_code, get["Allow"]) == (405, "POST")
    without_token = logged_in(ana, enforce_csrf_checks=True).post(url)
    assert without_token.status_code == 403
    assert state(row) == before


# --------------------------------------------------------------------------- the history page's forms


@pytest.mark.parametrize("name", ["mark_unread", "archive"])
def test_the_form_views_redirect_back_and_hide_other_users_rows(ana, bob, name):
    mine, theirs = store(ana, read_at=timezone.now()), store(bob, read_at=timezone.now())
    theirs_before = state(theirs)
    client = logged_in(ana)

    response = client.post(reverse(f"live_notify:{name}", args=[mine.pk]), {"next": "/notifications/?unread=1"})

    assert (response.status_code, response["Location"]) == (302, "/notifications/?unread=1")
    mine.refresh_from_db()
    assert (mine.read_at is None) if name == "mark_unread" else (mine.archived_at is not None)
    foreign = client.post(reverse(f"live_notify:{name}", args=[theirs.pk]))
    missing = client.post(reverse(f"live_notify:{name}", args=[theirs.pk + 1000]))
    assert foreign.status_code == missing.status_code == 404
    assert client.get(reverse(f"live_notify:{name}", args=[mine.pk])).status_code == 405
    assert state(theirs) == theirs_before


# --------------------------------------------------------------------------- protocol v1 and the other tabs


@pytest.mark.django_db(transaction=True)
async def test_mark_unread_over_the_socket_reaches_every_tab_with_the_count():
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana, read_at=timezone.now(), archived_at=timezone.now())
    tab, other_tab = await open_socket(ana), await open_socket(ana)

    await tab.send_json_to({"type": "mark_unread", "id": row.pk})

    for socket in (tab, other_tab):
        assert await receive(socket) == {"type": "unread", "ids": [row.pk]}
        assert await receive(socket) == {"type": "unread_count", "count": 1}
    await sync_to_async(row.refresh_from_db)()
    assert (row.read_at, row.archived_at) == (None, None)

    await other_tab.send_json_to({"type": "mark_read", "id": row.pk})
    for socket in (tab, other_tab):
        assert await receive(socket) == {"type": "read", "ids": [row.pk]}
        assert await receive(socket) == {"type": "unread_count", "count": 0}
    await tab.disconnect()
    await other_tab.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_json_api_pushes_unread_and_archive_to_the_open_tabs():
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana, read_at=timezone.now())
    tab = await open_socket(ana)
    client = await sync_to_async(logged_in)(ana)

    await sync_to_async(post_json)(client, reverse("live_notify:api_mark_unread", args=[row.pk]))
    assert await receive(tab) == {"type": "unread", "ids": [row.pk]}
    assert await receive(tab) == {"type": "unread_count", "count": 1}

    await sync_to_async(post_json)(client, reverse("live_notify:api_archive", args=[row.pk]))
    assert await receive(tab) == {"type": "read", "ids": [row.pk]}
    assert await receive(tab) == {"type": "archived", "ids": [row.pk], "archived": True}
    assert await receive(tab) == {"type": "unread_count", "count": 0}
    assert await receive(tab) == {"type": "unseen_count", "count": 0}
    await tab.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_another_users_row_over_the_socket_is_missing_and_their_tabs_hear_nothing():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    theirs = await sync_to_async(store)(bob, read_at=timezone.now())
    socket, bobs_tab = await open_socket(ana), await open_socket(bob)

    await socket.send_json_to({"type": "mark_unread", "id": theirs.pk})
    foreign = await receive(socket)
    await socket.send_json_to({"type": "mark_unread", "id": theirs.pk + 1000})
    missing = await receive(socket)

    assert foreign == missing == {"type": "error", "code": "not_found", "message": "No such notification."}
    assert await bobs_tab.receive_nothing(0.3)
    await sync_to_async(theirs.refresh_from_db)()
    assert theirs.read_at is not None
    await socket.disconnect()
    await bobs_tab.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad_id", [None, "1", -1, 0, 1.5, True, 2**63, [1]])
async def test_a_bad_id_gets_invalid_field_and_changes_nothing(bad_id):
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana, read_at=timezone.now())
    socket = await open_socket(ana)

    await socket.send_json_to({"type": "mark_unread", "id": bad_id})

    assert await receive(socket) == {
        "type": "error",
        "code": "invalid_field",
        "message": "'id' must be a positive integer.",
    }
    await sync_to_async(row.refresh_from_db)()
    assert row.read_at is not None
    await socket.disconnect()
