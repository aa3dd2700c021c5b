"""The analytics admin page: numbers of the hand-counted fixtures, SVG charts, timeline, funnel, staff only."""

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from django_live_notify.models import Notification
from tests.conftest import make_user
from tests.test_stats import DAY_ONE, fixture_rows, row  # noqa: F401 (a fixture)

URL = "/admin/django_live_notify/notification/analytics/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def cells(html, day, notification_type):
    found = re.search(rf'<tr data-day="{day}" data-type="{re.escape(notification_type)}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {day} {notification_type}"
    return re.findall(r"<td>(.*?)</td>", found.group(1), re.S)


def test_the_page_shows_the_hand_counted_numbers(admin_client, fixture_rows):  # noqa: F811
    response = admin_client.get(URL, {"since": "2026-11-02", "until": "2026-11-03"})
    assert response.status_code == 200
    html = response.content.decode()
    # Columns: day, type, sent, delivered live / email / webpush, seen, clicked, read, acted, p50, p95, p50, p95.
    assert cells(html, "2026-11-02", "invoice") == [
        "2026-11-02", "invoice", "6", "5", "1", "3", "2", "1", "4", "1", "3.0", "10.0", "20.0", "60.0",
    ]  # fmt: skip
    assert cells(html, "2026-11-02", "chat")[2:4] == ["1", "0"]
    assert cells(html, "2026-11-03", "invoice")[2:4] == ["2", "2"]
    # The charts add every type up per day: 7 sent on the first day, 2 on the second.
    assert "<title>11-02 sent: 7</title>" in html
    assert "<title>11-03 sent: 2</title>" in html
    assert "<title>11-02 delivered (webpush): 3</title>" in html
    assert "<title>11-02 p95: 10</title>" in html
    assert "<script" not in html.split('id="content-main"')[1]


def test_the_page_filters_by_type(admin_client, fixture_rows):  # noqa: F811
    html = admin_client.get(URL, {"since": "2026-11-02", "until": "2026-11-03", "type": "chat"}).content.decode()
    assert "<title>11-02 sent: 1</title>" in html
    assert 'data-type="invoice"' not in html


def test_the_page_draws_one_notifications_timeline(admin_client, fixture_rows):  # noqa: F811
    html = admin_client.get(URL, {"notification": fixture_rows[0]}).content.decode()
    timeline = html.split('id="live-notify-timeline"')[1].split("</svg>")[0]
    expected = [
        "created: +0.0 s", "delivered (live): +1.0 s", "delivered (webpush): +2.0 s", "delivered (email): +3.0 s",
        "seen: +5.0 s", "clicked: +6.0 s", "read: +11.0 s", "acted: pay: +11.0 s",
    ]  # fmt: skip
    assert re.findall(r">([^<>]+ s)</text>", timeline) == expected


def test_the_page_draws_one_broadcasts_funnel(admin_client):
    broadcast_id = uuid.uuid4()
    users = [make_user(f"user{index}") for index in range(5)]
    ids = [
        row(
            user,
            DAY_ONE,
            delivered=1 if index < 4 else None,
            seen=2 if index < 2 else None,
            read=3 if index < 1 else None,
        )
        for index, user in enumerate(users)
    ]
    Notification.objects.filter(pk__in=ids).update(broadcast_id=broadcast_id)

    html = admin_client.get(URL, {"broadcast": str(broadcast_id)}).content.decode()

    funnel = html.split('id="live-notify-funnel"')[1].split("</svg>")[0]
    assert re.findall(r">(\d+ \(\d+%\))</text>", funnel) == ["5 (100%)", "4 (80%)", "2 (40%)", "1 (20%)"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"notification": "999999"}, "No notification 999999."),
        ({"notification": "abc"}, "No notification abc."),
        ({"broadcast": "nope"}, "nope is not a broadcast id"),
        ({"since": "2026-02-30"}, "is not a date"),
        ({"since": "2026-11-03", "until": "2026-11-01"}, "at most 93 days"),
    ],
)
def test_bad_input_is_a_clear_message(admin_client, query, message):
    response = admin_client.get(URL, query)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_the_notification_list_and_change_pages_link_to_the_page(admin_client, fixture_rows):  # noqa: F811
    assert f'href="{URL}"' in admin_client.get("/admin/django_live_notify/notification/").content.decode()
    change = admin_client.get(f"/admin/django_live_notify/notification/{fixture_rows[0]}/change/").content.decode()
    assert f'href="{URL}?notification={fixture_rows[0]}"' in change


def test_non_staff_and_anonymous_users_are_sent_to_the_login(client, db):
    assert client.get(URL).status_code == 302
    client.force_login(make_user("ana"))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_view_permission_are_refused(client, db):
    staff = make_user("clerk", is_staff=True)
    client.force_login(staff)
    assert client.get(URL).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(get_user_model().objects.get(pk=staff.pk))
    assert client.get(URL).status_code == 200
