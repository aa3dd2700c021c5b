"""Aggregates per type and day, checked against fixtures counted by hand, and the live_notify_stats command."""

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from django_live_notify import analytics, stats
from django_live_notify.models import Notification
from tests.conftest import make_user

DAY_ONE = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAY_TWO = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)


def row(recipient, created, notification_type="invoice", delivered=None, seen=None, clicked=None, read=None, acted=""):
    """Store a row created at ``created`` whose events came the given seconds after it (None: never)."""
    notification = Notification.objects.create(recipient=recipient, title="t", notification_type=notification_type)

    def after(seconds):
        return None if seconds is None else created + timedelta(seconds=seconds)

    Notification.objects.filter(pk=notification.pk).update(
        created=created,
        delivered_at=after(delivered),
        seen_at=after(seen),
        clicked_at=after(clicked),
        read_at=after(read),
        action_taken=acted,
        acted_at=after(read) if acted else None,
    )
    return notification.pk


@pytest.fixture
def fixture_rows(db):
    ana = make_user("ana")
    invoices = [
        row(ana, DAY_ONE, delivered=1, seen=5, clicked=6, read=11, acted="pay"),
        row(ana, DAY_ONE, delivered=2, seen=8, read=22),
        row(ana, DAY_ONE, delivered=3),
        row(ana, DAY_ONE, delivered=4),
        row(ana, DAY_ONE, delivered=10, read=70),
        # Read on a page before any client acked it: read, but in no latency.
        row(ana, DAY_ONE, read=30),
    ]
    row(ana, DAY_ONE, notification_type="chat")
    row(ana, DAY_TWO, delivered=5)
    row(ana, DAY_TWO, delivered=7)
    # Just outside 2026-11-02 .. 2026-11-03.
    row(ana, datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC), delivered=1)
    row(ana, datetime(2026, 11, 4, 0, 0, tzinfo=UTC), delivered=1)
    analytics.record_channel_delivery(
        [invoices[0], invoices[2], invoices[5]], "webpush", DAY_ONE + timedelta(seconds=2)
    )
    analytics.record_channel_delivery([invoices[0]], "email", DAY_ONE + timedelta(seconds=3))
    return invoices


# Counted by hand from fixture_rows. Delivery seconds of the day-one invoices: 1 2 3 4 10, so the nearest-rank
# p50 is the 3rd (3) and the p95 the 5th (10); reading after delivery: 10 20 60, p50 the 2nd, p95 the 3rd.
EXPECTED = [
    {
        "day": "2026-11-02",
        "type": "chat",
        "sent": 1,
        "delivered": {"live": 0},
        "seen": 0,
        "clicked": 0,
        "read": 0,
        "acted": 0,
        "delivery_p50": None,
        "delivery_p95": None,
        "read_p50": None,
        "read_p95": None,
    },
    {
        "day": "2026-11-02",
        "type": "invoice",
        "sent": 6,
        "delivered": {"live": 5, "webpush": 3, "email": 1},
        "seen": 2,
        "clicked": 1,
        "read": 4,
        "acted": 1,
        "delivery_p50": 3.0,
        "delivery_p95": 10.0,
        "read_p50": 20.0,
        "read_p95": 60.0,
    },
    {
        "day": "2026-11-03",
        "type": "invoice",
        "sent": 2,
        "delivered": {"live": 2},
        "seen": 0,
        "clicked": 0,
        "read": 0,
        "acted": 0,
        "delivery_p50": 5.0,
        "delivery_p95": 7.0,
        "read_p50": None,
        "read_p95": None,
    },
]


def test_daily_aggregates_match_the_hand_count(fixture_rows):
    result = [entry.as_dict() for entry in stats.daily(date(2026, 11, 2), date(2026, 11, 3))]
    assert result == EXPECTED


def test_daily_aggregates_of_one_type(fixture_rows):
    result = [entry.as_dict() for entry in stats.daily(date(2026, 11, 2), date(2026, 11, 2), "chat")]
    assert result == EXPECTED[:1]


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [
        ([], None, None),
        ([7.0], 7.0, 7.0),
        ([4.0, 1.0, 3.0, 2.0], 2.0, 4.0),
        (list(map(float, range(1, 101))), 50.0, 95.0),
    ],
)
def test_percentile_is_nearest_rank(values, p50, p95):
    assert (stats.percentile(values, 50), stats.percentile(values, 95)) == (p50, p95)


def test_the_command_prints_json(fixture_rows, capsys):
    call_command("live_notify_stats", "--since", "2026-11-02", "--until", "2026-11-03", "--format", "json")
    assert json.loads(capsys.readouterr().out) == EXPECTED


def test_the_command_prints_csv_with_a_column_per_channel(fixture_rows, capsys):
    call_command("live_notify_stats", "--since", "2026-11-02", "--until", "2026-11-03", "--format", "csv")
    lines = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert lines[0] == [
        "day", "type", "sent", "delivered_live", "delivered_email", "delivered_webpush",
        "seen", "clicked", "read", "acted", "delivery_p50", "delivery_p95", "read_p50", "read_p95",
    ]  # fmt: skip
    assert lines[1:] == [
        ["2026-11-02", "chat", "1", "0", "0", "0", "0", "0", "0", "0", "", "", "", ""],
        ["2026-11-02", "invoice", "6", "5", "1", "3", "2", "1", "4", "1", "3.000", "10.000", "20.000", "60.000"],
        ["2026-11-03", "invoice", "2", "2", "0", "0", "0", "0", "0", "0", "5.000", "7.000", "", ""],
    ]


def test_the_command_prints_a_table(fixture_rows, capsys):
    call_command("live_notify_stats", "--since", "2026-11-03", "--until", "2026-11-03", "--type", "invoice")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "day", "type", "sent", "delivered_live", "seen", "clicked", "read", "acted",
        "delivery_p50", "delivery_p95", "read_p50", "read_p95",
    ]  # fmt: skip
    assert lines[1].split() == ["2026-11-03", "invoice", "2", "2", "0", "0", "0", "0", "5.000", "7.000"]
    assert len(lines) == 2


def test_the_command_says_when_there_is_nothing(db, capsys):
    call_command("live_notify_stats", "--since", "2026-11-02", "--until", "2026-11-03")
    assert capsys.readouterr().out.strip() == "No notifications from 2026-11-02 to 2026-11-03."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "is not a date"),
        (["--since", "2026-11-03", "--until", "2026-11-02"], "must not be after"),
        (["--since", "2020-01-01", "--until", "2026-01-01"], "at most 366 days"),
    ],
)
def test_the_command_refuses_bad_dates(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("live_notify_stats", *args)


def test_a_timeline_lists_what_happened_in_order(fixture_rows):
    notification = Notification.objects.get(pk=fixture_rows[0])
    events = stats.timeline(notification)
    assert [name for name, _ in events] == [
        "created", "delivered (live)", "delivered (webpush)", "delivered (email)", "seen", "clicked", "read",
        "acted: pay",
    ]  # fmt: skip
    assert [(moment - DAY_ONE).total_seconds() for _, moment in events] == [0, 1, 2, 3, 5, 6, 11, 11]
    assert stats.timeline(Notification.objects.get(pk=fixture_rows[3]))[1] == (
        "delivered (live)",
        DAY_ONE + timedelta(seconds=4),
    )


def test_a_funnel_counts_one_broadcasts_rows(db):
    users = [make_user(f"user{index}") for index in range(4)]
    broadcast_id = uuid.uuid4()
    ids = [row(user, DAY_ONE, delivered=1, seen=2 if index < 2 else None, read=3 if index == 0 else None)
           for index, user in enumerate(users)]  # fmt: skip
    Notification.objects.filter(pk__in=ids[:3]).update(broadcast_id=broadcast_id)
    Notification.objects.filter(pk=ids[3]).update(delivered_at=None)

    assert stats.funnel(broadcast_id) == {"rows": 3, "delivered": 3, "seen": 2, "read": 1}
    assert stats.funnel(uuid.uuid4()) == {"rows": 0, "delivered": 0, "seen": 0, "read": 0}


def test_daily_aggregates_over_every_type(fixture_rows):
    result = [entry.as_dict() for entry in stats.daily(date(2026, 11, 2), date(2026, 11, 3), by_type=False)]
    day_one = dict(EXPECTED[1], type="*", sent=7)
    assert result == [day_one, dict(EXPECTED[2], type="*")]
