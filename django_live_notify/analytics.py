"""Delivery and engagement records: when a notification reached a client, and when it was clicked.

Clients confirm receipt with ``ack`` frames and report clicks with ``clicked`` frames (see docs/analytics.rst).
Both go through one :class:`~django_live_notify.batching.Batcher`: the acks of many sockets that arrive while the
previous batch is written become one SELECT and one UPDATE per kind, so a broadcast to 10,000 sockets costs a few
dozen queries, not 10,000. Only the first ack of a row counts (``delivered_at IS NULL``), and a socket only ever
touches its own user's rows: an id of another user changes nothing and answers like a missing one: not at all.

Other channels (web push, email) record their deliveries with :func:`record_channel_delivery`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from .batching import Batcher, batches
from .conf import live_settings
from .models import Notification, NotificationDelivery

# What a client may report, and the column each one sets the first time.
COLUMNS = {"delivered": "delivered_at", "clicked": "clicked_at"}
# The channel name of the socket in the aggregates; other channels use their backend's name.
LIVE_CHANNEL = "live"


def enabled() -> bool:
    """Return whether analytics are on (``LIVE_NOTIFY["ANALYTICS"]``)."""
    return live_settings.analytics


def record(reports: list[tuple[str, Any, list[int]]]) -> list[int]:
    """Set the column of each ``(kind, user_pk, ids)`` report where still empty, on the reporters' own rows.

    Per kind and ``BATCH_SIZE`` ids: one SELECT of the rows still empty and their recipients, then one UPDATE
    of those the reporting user owns. Both are flat ``id IN (...)`` lists, which every database takes in any
    length (an OR of one term per user would not: SQLite refuses expressions nested 1,000 deep).
    Return, per report, how many rows of its kind the batch changed in all.
    """
    now = timezone.now()
    changed: dict[str, int] = {}
    for kind, column in COLUMNS.items():
        reporters: dict[int, set[Any]] = {}
        for report_kind, user_pk, ids in reports:
            if report_kind == kind:
                for notification_id in ids:
                    reporters.setdefault(notification_id, set()).add(user_pk)
        if not reporters:
            continue
        empty = Notification.objects.filter(**{f"{column}__isnull": True})
        owned = [
            notification_id
            for chunk in batches(sorted(reporters))
            for notification_id, recipient_id in empty.filter(pk__in=chunk).values_list("pk", "recipient_id")
            if recipient_id in reporters[notification_id]
        ]
        changed[kind] = sum(empty.filter(pk__in=chunk).update(**{column: now}) for chunk in batches(owned))
    return [changed.get(kind, 0) for kind, _, _ in reports]


# A SELECT and an UPDATE per kind for up to 1000 sockets' reports.
record_batched: Batcher[tuple[str, Any, list[int]], int] = Batcher(record, max_batch=1000)


def record_channel_delivery(
    notification_ids: Iterable[int], channel: str, delivered_at: datetime | None = None
) -> int:
    """Record that ``channel`` (``"webpush"``, ``"email"``: a backend's ``name``) took these notifications.

    Call it when the push service accepted the message or the email was sent. Only the first delivery of a
    notification over a channel counts; repeats and ids of deleted rows are ignored. Return how many were new.
    Does nothing when analytics are off.
    """
    if not enabled():
        return 0
    if not channel or len(channel) > 32 or channel == LIVE_CHANNEL:
        raise ValueError(f"channel must be a backend name of 1 to 32 characters other than {LIVE_CHANNEL!r}.")
    delivered_at = delivered_at or timezone.now()
    wanted = sorted(set(notification_ids))
    if not wanted:
        return 0
    existing = set(Notification.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    done = set(
        NotificationDelivery.objects.filter(notification_id__in=existing, channel=channel).values_list(
            "notification_id", flat=True
        )
    )
    rows = [
        NotificationDelivery(notification_id=pk, channel=channel, delivered_at=delivered_at)
        for pk in sorted(existing - done)
    ]
    # ignore_conflicts: two workers may record the same row at once; the first one wins.
    NotificationDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


__all__ = ["enabled", "record", "record_batched", "record_channel_delivery"]
