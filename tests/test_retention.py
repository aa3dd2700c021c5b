"""Expiry and retention: expired notifications are gone for users; live_notify_cleanup deletes old ones."""

import re
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import QuerySet
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_live_notify import broadcast, notify
from django_live_notify.models import Notification
from django_live_notify.reading import unread_count, unread_counts
from django_live_notify.replay import resume_frames_many


def age(notifications, days, read=True):
    """Make ``notifications`` created ``days`` ago, and read then when ``read``."""
    moment = timezone.now() - timedelta(days=days)
    Notification.objects.filter(pk__in=[row.pk for row in notifications]).update(
        created=moment, read_at=moment if read else None
    )


def expire(notifications):
    Notification.objects.filter(pk__in=[row.pk for row in notifications]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def titles():
    return sorted(Notification.objects.values_list("title", flat=True))


def output_lines(text):
    """Return the lines of ``text`` with the elapsed seconds replaced by T."""
    return [re.sub(r" in \d+\.\d s$", " in T s", line) for line in text.splitlines()]


@pytest.fixture
def ana(user_factory):
    return user_factory("ana")


# --------------------------------------------------------------------------- expiry


def test_expires_at_is_stored_and_sent(ana):
    when = timezone.now() + timedelta(hours=2)
    notification = notify(ana, title="Flash sale", expires_at=when)
    notification.refresh_from_db()
    assert notification.expires_at == when
    assert notification.to_payload()["expires_at"] == when.isoformat()
    assert broadcast(title="Maintenance", expires_at=when) == 1


@pytest.mark.parametrize(
    ("expires_at", "error", "message"),
    [
        ("tomorrow", TypeError, "must be a datetime"),
        (timezone.now().replace(tzinfo=None) + timedelta(days=1), ValueError, "timezone-aware"),
        (timezone.now() - timedelta(seconds=1), ValueError, "in the future"),
    ],
)
def test_bad_expiry_raises(ana, expires_at, error, message):
    with pytest.raises(error, match=message):
        notify(ana, title="t", expires_at=expires_at)
    assert not Notification.objects.exists()


def test_expired_notifications_are_gone_for_the_user(ana):
    kept = notify(ana, title="kept")
    gone = notify(ana, title="gone", expires_at=timezone.now() + timedelta(minutes=5))
    expire([gone])
    client = Client()
    client.force_login(ana)

    assert unread_count(ana) == 1
    assert unread_counts([ana.pk]) == {str(ana.pk): 1}
    assert [result["id"] for result in client.get(reverse("live_notify:api_list")).json()["results"]] == [kept.pk]
    assert "gone" not in client.get(reverse("live_notify:list")).content.decode()
    [(frames, _replayed)] = resume_frames_many([(ana.pk, 0)])
    assert len(frames) == 3  # kept, resumed, unread_count
    assert client.post(reverse("live_notify:api_mark_read", args=[gone.pk])).status_code == 404


# --------------------------------------------------------------------------- the cleanup command


def test_cleanup_deletes_old_read_and_expired_notifications_and_keeps_unread(ana, capsys):
    old_read = notify(ana, title="old read")
    old_unread = notify(ana, title="old unread")
    recent_read = notify(ana, title="recent read")
    expired_unread = notify(ana, title="expired unread", expires_at=timezone.now() + timedelta(days=1))
    notify(ana, title="new")
    age([old_read], days=91)
    age([old_unread], days=200, read=False)
    age([recent_read], days=89)
    expire([expired_unread])

    call_command("live_notify_cleanup")

    assert titles() == ["new", "old unread", "recent read"]
    assert "Deleted 2 notification(s): 1 expired, 1 read and old." in capsys.readouterr().out


def test_days_overrides_the_setting(ana):
    notifications = [notify(ana, title=f"n{days}") for days in (3, 10)]
    age(notifications[:1], days=3)
    age(notifications[1:], days=10)

    call_command("live_notify_cleanup", "--days", "5", "--quiet")

    assert titles() == ["n3"]


@override_settings(LIVE_NOTIFY={"RETENTION_DAYS": 7})
def test_the_setting_is_the_default(ana):
    notifications = [notify(ana, title=f"n{days}") for days in (3, 10)]
    age(notifications[:1], days=3)
    age(notifications[1:], days=10)
    call_command("live_notify_cleanup", verbosity=0)
    assert titles() == ["n3"]


@override_settings(LIVE_NOTIFY={"RETENTION_DAYS": None})
def test_retention_none_keeps_read_notifications_but_deletes_expired_ones(ana, capsys):
    old = notify(ana, title="old")
    expired = notify(ana, title="expired", expires_at=timezone.now() + timedelta(days=1))
    age([old], days=1000)
    expire([expired])
    call_command("live_notify_cleanup")
    assert titles() == ["old"]
    assert "read notifications are kept" in capsys.readouterr().out


def test_deletes_in_batches_and_reports_progress(user_factory, capsys):
    users = [user_factory(f"u{index}") for index in range(7)]
    rows = notify(users, title="old")
    age(rows, days=365)

    with CaptureQueriesContext(connection) as queries:
        call_command("live_notify_cleanup", "--batch-size", "3")

    assert not Notification.objects.exists()
    delete = f"DELETE FROM {connection.ops.quote_name(Notification._meta.db_table)}"
    deletes = [query for query in queries if query["sql"].startswith(delete)]
    assert len(deletes) == 3  # 3 + 3 + 1; each also deletes the batch's delivery records
    output = capsys.readouterr()
    # Progress goes to stderr, one line per batch, against the total counted first; the result to stdout.
    assert output_lines(output.err) == [
        f"read and older than 90 day(s): deleted {count} of ~7 notification(s) in T s" for count in (3, 6, 7)
    ]
    assert output.out == "Deleted 7 notification(s): 0 expired, 7 read and old.\n"


def test_progress_of_expired_rows_against_a_big_total(user_factory, capsys):
    users = [user_factory(f"u{index}") for index in range(3)]
    rows = notify(users, title="soon", expires_at=timezone.now() + timedelta(days=1))
    expire(rows)
    with patch.object(QuerySet, "count", return_value=120_000):  # Pretend the table is big.
        call_command("live_notify_cleanup", "--batch-size", "2")
    assert output_lines(capsys.readouterr().err) == [
        "expired: deleted 2 of ~120,000 notification(s) in T s",
        "expired: deleted 3 of ~120,000 notification(s) in T s",
    ]


@pytest.mark.parametrize("quiet", [["--quiet"], ["-v", "0"], ["--verbosity=0"]])
def test_quiet_prints_nothing_and_counts_nothing(ana, capsys, quiet):
    age([notify(ana, title="old")], days=365)
    with CaptureQueriesContext(connection) as queries:
        call_command("live_notify_cleanup", *quiet)
    assert capsys.readouterr() == ("", "")
    assert not Notification.objects.exists()
    assert not [query for query in queries if "COUNT(" in query["sql"]]  # The total is only for progress lines.


@pytest.mark.parametrize(("args", "message"), [(["--days", "-1"], "--days"), (["--batch-size", "0"], "--batch-size")])
def test_bad_arguments(ana, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("live_notify_cleanup", *args)
