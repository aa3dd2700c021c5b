"""The inbox: seen, archive, snooze and action outcomes over the JSON API and protocol v1, pushed to every tab."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_live_notify import actions, inbox, notify
from django_live_notify.actions import action
from django_live_notify.conf import live_settings
from django_live_notify.models import Notification
from django_live_notify.testing import receive_frame as receive
from tests.conftest import make_user, open_socket


def logged_in(user):
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def post_json(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json", HTTP_ACCEPT="application/json")


def store(user, title="Hello", **extra):
    return Notification.objects.create(recipient=user, title=title, **extra)


@pytest.fixture
def ana(db):
    return make_user("ana")


@pytest.fixture
def bob(db):
    return make_user("bob")


def inbox_page(client, tab="all", **query):
    response = client.get(reverse("live_notify:api_inbox"), {"tab": tab, **query})
    assert response.status_code == 200, response.content
    return response.json()


# --------------------------------------------------------------------------- the feed and counts


def test_the_feed_is_newest_first_with_unread_and_unseen_counts(ana, bob):
    first, second = store(ana, "first"), store(ana, "second")
    store(bob, "not ana's")
    second.read_at = timezone.now()
    second.save()

    body = inbox_page(logged_in(ana))

    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    assert (body["unread_count"], body["unseen_count"], body["next_wake"]) == (1, 2, None)
    assert body["results"][0]["type_label"] == "System"
    assert [row["id"] for row in inbox_page(logged_in(ana), "unread")["results"]] == [first.pk]


def test_the_feed_pages_by_page_size(ana):
    rows = [store(ana, f"n{index}") for index in range(5)]
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 2}):
        client = logged_in(ana)
        first = inbox_page(client)
        second = client.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == [row.pk for row in rows[::-1][:4]]


@pytest.mark.parametrize("query", [{"tab": "spam"}, {"page": "0"}, {"page": "x"}])
def test_a_bad_tab_or_page_is_a_clear_400(ana, query):
    response = logged_in(ana).get(reverse("live_notify:api_inbox"), query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_mark_seen_counts_only_the_users_rows(ana, bob):
    mine, theirs = store(ana), store(bob)
    response = post_json(logged_in(ana), reverse("live_notify:api_mark_seen"), {"ids": [mine.pk, theirs.pk]})

    assert response.status_code == 200
    assert (response.json()["marked"], response.json()["unseen_count"]) == (1, 0)
    theirs.refresh_from_db()
    assert theirs.seen_at is None


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["1"]}, {"ids": [0]}, {"ids": list(range(1, 200))}])
def test_mark_seen_refuses_bad_ids_and_changes_nothing(ana, body):
    row = store(ana)
    response = post_json(logged_in(ana), reverse("live_notify:api_mark_seen"), body)
    assert response.status_code == 400 and response.json()["error"]
    row.refresh_from_db()
    assert row.seen_at is None


def test_mark_all_seen(ana):
    store(ana), store(ana)
    response = post_json(logged_in(ana), reverse("live_notify:api_mark_seen"), {"all": True})
    assert (response.json()["marked"], response.json()["unseen_count"]) == (2, 0)


# --------------------------------------------------------------------------- archive and snooze


def test_archive_moves_a_row_to_the_archived_tab_read_and_seen(ana):
    row = store(ana)
    client = logged_in(ana)

    response = post_json(client, reverse("live_notify:api_archive", args=[row.pk]))

    assert response.status_code == 200
    body = response.json()
    assert body["notification"]["is_archived"] and body["notification"]["is_read"]
    assert (body["unread_count"], body["unseen_count"]) == (0, 0)
    assert inbox_page(client)["results"] == []
    assert [item["id"] for item in inbox_page(client, "archived")["results"]] == [row.pk]
    post_json(client, reverse("live_notify:api_unarchive", args=[row.pk]))
    assert [item["id"] for item in inbox_page(client)["results"]] == [row.pk]


@pytest.mark.parametrize("name", ["api_archive", "api_unarchive", "api_snooze"])
def test_another_users_row_answers_like_a_missing_one(ana, bob, name):
    theirs = store(bob)
    body = {"until": (timezone.now() + timedelta(hours=1)).isoformat()}
    client = logged_in(ana)
    foreign = post_json(client, reverse(f"live_notify:{name}", args=[theirs.pk]), body)
    missing = post_json(client, reverse(f"live_notify:{name}", args=[theirs.pk + 1000]), body)
    assert (
        (foreign.status_code, foreign.json())
        == (missing.status_code, missing.json())
        == (404, {"error": "Not found."})
    )
    theirs.refresh_from_db()
    assert (theirs.archived_at, theirs.snoozed_until) == (None, None)


@pytest.mark.parametrize(
    "until", [None, "tomorrow", "2020-01-01T00:00:00Z", "2999-01-01T00:00:00", 5, "2999-01-01T00:00:00Z" * 3]
)
def test_snooze_needs_an_aware_time_in_the_future(ana, until):
    row = store(ana)
    response = post_json(logged_in(ana), reverse("live_notify:api_snooze", args=[row.pk]), {"until": until})
    assert response.status_code == 400 and response.json()["error"]
    row.refresh_from_db()
    assert row.snoozed_until is None


def test_a_snoozed_row_is_hidden_then_comes_back_unread_and_unseen(ana):
    row = store(ana)
    client = logged_in(ana)
    until = timezone.now() + timedelta(hours=2)

    body = post_json(client, reverse("live_notify:api_snooze", args=[row.pk]), {"until": until.isoformat()}).json()

    assert body["notification"]["snoozed_until"] == until.isoformat()
    assert (body["unread_count"], body["unseen_count"]) == (0, 0)
    page = inbox_page(client)
    assert page["results"] == [] and page["next_wake"] == until.isoformat()
    Notification.objects.filter(pk=row.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))

    page = inbox_page(client)

    assert [(item["id"], item["is_read"], item["is_seen"]) for item in page["results"]] == [(row.pk, False, False)]
    assert (page["unread_count"], page["unseen_count"], page["next_wake"]) == (1, 1, None)


def test_the_inbox_api_needs_post_csrf_and_a_user(ana):
    row = store(ana)
    url = reverse("live_notify:api_archive", args=[row.pk])
    assert Client().post(url).status_code == 403
    assert logged_in(ana).get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ana)
    assert strict.post(url).status_code == 403
    row.refresh_from_db()
    assert row.archived_at is None


# --------------------------------------------------------------------------- actions run once


@pytest.fixture
def accept_handler():
    calls = []

    @action("accept")
    def accept(request, notification):
        calls.append(notification.pk)

    yield calls
    actions.unregister("accept")


def test_an_action_runs_once_and_shows_its_outcome(ana, accept_handler):
    row = notify(
        ana, title="Request", actions=[{"label": "Accept", "method": "POST", "name": "accept", "outcome": "Accepted"}]
    )
    url = reverse("live_notify:action", args=[row.pk, "accept"])
    client = logged_in(ana)

    first = client.post(url, HTTP_ACCEPT="application/json")
    second = client.post(url, HTTP_ACCEPT="application/json")

    assert first.json()["outcome"] == {"action": "accept", "label": "Accepted"}
    assert second.status_code == 409 and "Accepted" in second.json()["error"]
    assert accept_handler == [row.pk]
    assert inbox_page(client)["results"][0]["outcome"] == {"action": "accept", "label": "Accepted"}


def test_the_history_page_shows_the_outcome_instead_of_the_buttons(ana, accept_handler):
    row = notify(
        ana, title="Request", actions=[{"label": "Accept", "method": "POST", "name": "accept", "outcome": "Accepted"}]
    )
    client = logged_in(ana)
    url = reverse("live_notify:action", args=[row.pk, "accept"])
    assert client.post(url, {"next": "/notifications/"}, HTTP_ACCEPT="text/html").status_code == 302

    page = client.get(reverse("live_notify:list")).content.decode()

    assert "Accepted" in page and url not in page
    assert client.post(url, HTTP_ACCEPT="text/html").status_code == 302
    assert accept_handler == [row.pk]


def test_a_get_action_cannot_have_an_outcome(ana):
    with pytest.raises(ValueError, match="outcome"):
        notify(ana, title="x", actions=[{"label": "View", "url": "/x/", "outcome": "Viewed"}])


# --------------------------------------------------------------------------- types


def test_type_labels_are_derived_from_the_name_unless_configured():
    assert live_settings.type_label("service_request") == "Service request"
    with override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("service_request", "Requests")]}):
        assert live_settings.type_label("service_request") == "Requests"


# --------------------------------------------------------------------------- protocol v1


@pytest.mark.django_db(transaction=True)
async def test_frames_change_state_and_reach_every_tab_of_the_user():
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana)
    tab, other_tab = await open_socket(ana), await open_socket(ana)

    await tab.send_json_to({"type": "mark_seen", "ids": [row.pk]})

    for socket in (tab, other_tab):
        assert await receive(socket) == {"type": "seen", "ids": [row.pk]}
        assert await receive(socket) == {"type": "unread_count", "count": 1}
        assert await receive(socket) == {"type": "unseen_count", "count": 0}

    await tab.send_json_to({"type": "archive", "id": row.pk})
    for socket in (tab, other_tab):
        assert await receive(socket) == {"type": "read", "ids": [row.pk]}
        assert await receive(socket) == {"type": "archived", "ids": [row.pk], "archived": True}
        assert (await receive(socket))["count"] == 0
        assert (await receive(socket))["count"] == 0

    until = (timezone.now() + timedelta(minutes=5)).isoformat()
    await other_tab.send_json_to({"type": "snooze", "id": row.pk, "until": until})
    for socket in (tab, other_tab):
        assert await receive(socket) == {"type": "snoozed", "ids": [row.pk], "until": until}
        await receive(socket), await receive(socket)
    await tab.disconnect()
    await other_tab.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame, code",
    [
        ({"type": "mark_seen", "ids": "1"}, "invalid_field"),
        ({"type": "archive", "id": -1}, "invalid_field"),
        ({"type": "unarchive", "id": 10**9}, "not_found"),
        ({"type": "snooze", "id": 1, "until": "2000-01-01T00:00:00Z"}, "invalid_field"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(frame, code):
    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(store)(ana)
    socket = await open_socket(ana)

    await socket.send_json_to(frame)

    assert (await receive(socket))["code"] == code
    await sync_to_async(row.refresh_from_db)()
    assert (row.seen_at, row.archived_at, row.snoozed_until) == (None, None, None)
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_another_users_row_is_not_found_over_the_socket():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    theirs = await sync_to_async(store)(bob)
    socket = await open_socket(ana)

    await socket.send_json_to({"type": "archive", "id": theirs.pk})

    assert (await receive(socket))["code"] == "not_found"
    await socket.disconnect()


def test_wake_snoozed_only_wakes_due_rows(ana):
    due = store(ana, snoozed_until=timezone.now() - timedelta(seconds=1), read_at=timezone.now())
    later = store(ana, snoozed_until=timezone.now() + timedelta(hours=1), read_at=timezone.now())
    assert inbox.wake_snoozed(ana) == [due.pk]
    later.refresh_from_db()
    assert later.snoozed_until is not None and later.read_at is not None


# --------------------------------------------------------------------------- the template tag


def render(template_text, user):
    from django.contrib.auth.models import AnonymousUser
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    return Template("{% load live_notify %}" + template_text).render(Context({"request": request}))


def test_the_inbox_tag_renders_nothing_for_anonymous_users(db):
    assert render("{% live_notify_inbox %}", None) == ""


def test_the_inbox_tag_renders_the_bell_with_the_unseen_count_and_the_config(ana):
    store(ana), store(ana, seen_at=timezone.now())
    html = render("{% live_notify_inbox %}", ana)
    config = json.loads(html.split('id="live-notify-inbox-config" type="application/json">')[1].split("</script>")[0])
    assert (config["unseenCount"], config["unreadCount"]) == (1, 2)
    assert config["inboxUrl"] == reverse("live_notify:api_inbox")
    assert config["archiveUrl"] == reverse("live_notify:api_archive", args=[0])
    assert 'aria-label="Notifications, 1 new"' in html and 'aria-expanded="false"' in html
    # The counted-phrase script first, as {% live_notifications %} puts it before the live client.
    assert html.endswith(
        '<script src="/static/django_live_notify/live-notify-plural.js" defer></script>\n'
        '<script src="/static/django_live_notify/live-notify-inbox.js" defer></script>\n</div>\n'
    )


def test_the_inbox_summary_is_one_counted_phrase_with_its_forms_for_the_script(ana):
    store(ana), store(ana), store(ana, read_at=timezone.now())
    html = render("{% live_notify_inbox %}", ana)
    summary = html.split("data-live-notify-unread-summary>")[1].split("</span></span>")[0]
    assert summary == '<span data-live-notify-inbox-unread data-count="2">2 unread'
    # The inbox alone writes it: the live client writes every [data-live-notify-badge], so it is not one.
    assert "data-live-notify-badge" not in html
    config = json.loads(html.split('id="live-notify-inbox-config" type="application/json">')[1].split("</script>")[0])
    # English: "1 unread" for one, "N unread" for the others; one digit per count from 0 to 199.
    assert config["plurals"]["unreadSummary"] == {"forms": ["%(counter)s unread"], "index": "0" * 200}
    assert config["plurals"]["bellLabel"]["forms"] == ["Notifications, %(counter)s new"]
    assert "new" not in config["strings"]


def test_plural_forms_say_which_form_each_count_takes_past_the_table_too():
    from django_live_notify.templatetags.live_notify import plural_forms, plural_text

    def polish(count):
        if count == 1:
            return "%(counter)s plik"
        few = 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14
        return "%(counter)s pliki" if few else "%(counter)s plików"

    plural = plural_forms("test_polish", polish)
    assert plural["forms"] == ["%(counter)s plików", "%(counter)s plik", "%(counter)s pliki"]
    for count in [0, 1, 2, 5, 12, 22, 112, 199, 200, 212, 222, 1001, 1022, 1025, 98765]:
        assert plural_text(plural, count) == polish(count) % {"counter": count}


def test_plural_forms_are_kept_per_language_until_the_catalog_settings_change():
    from django.utils import translation
    from django.utils.translation import ngettext

    from django_live_notify.templatetags.live_notify import plural_forms

    def unread(count):
        return ngettext("%(counter)s unread", "%(counter)s unread", count)

    english = plural_forms("test_unread", unread)
    assert plural_forms("test_unread", lambda count: "changed") is english
    with translation.override("pt-br"):
        assert plural_forms("test_unread", unread)["forms"] == ["%(counter)s não lida", "%(counter)s não lidas"]
    with override_settings(LOCALE_PATHS=[]):
        assert plural_forms("test_unread", lambda count: "changed") == {"forms": ["changed"], "index": "0" * 200}
    assert plural_forms("test_unread", unread) == english


def test_times_read_just_now_under_a_minute_never_0_minutes_ago():
    from django_live_notify.templatetags.live_notify import live_notify_ago

    assert live_notify_ago(timezone.now()) == "just now"
    assert live_notify_ago(timezone.now() - timedelta(seconds=59)) == "just now"
    assert live_notify_ago(timezone.now() - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"


def test_the_preferences_page_shows_human_labels_when_types_are_not_configured(ana):
    from django_live_notify import preferences

    store(ana, notification_type="service_request")
    labels = {row["notification_type"]: row["label"] for row in preferences.preferences_for(ana)}
    assert labels["service_request"] == "Service request"
