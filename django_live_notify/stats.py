"""Aggregates of the analytics records: per type and day, one notification's timeline, one broadcast's funnel.

Days are UTC days of ``created``. Counts are computed in the database (one grouped query for the notification
columns, one for the per-channel deliveries). Percentiles are not portable SQL (MariaDB and SQLite have no
``percentile_cont``), so they are computed in Python over one streamed query of the delivered rows in the range:
memory grows by 16 bytes per delivered row, about 160 MB for ten million.
"""

from __future__ import annotations

import math
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils.translation import pgettext_lazy

from .analytics import LIVE_CHANNEL
from .models import Notification, NotificationDelivery, PendingBroadcast


@dataclass
class DayStats:
    """The counts and latencies of one notification type on one UTC day."""

    day: date
    notification_type: str
    sent: int = 0
    # Rows delivered per channel: "live" (a client's ack), then each backend's name.
    delivered: dict[str, int] = field(default_factory=dict)
    seen: int = 0
    clicked: int = 0
    read: int = 0
    acted: int = 0
    # Seconds from the row's creation to its first ack, and from that ack to its reading; None without data.
    delivery_p50: float | None = None
    delivery_p95: float | None = None
    read_p50: float | None = None
    read_p95: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "type": self.notification_type,
            "sent": self.sent,
            "delivered": dict(self.delivered),
            "seen": self.seen,
            "clicked": self.clicked,
            "read": self.read,
            "acted": self.acted,
            "delivery_p50": self.delivery_p50,
            "delivery_p95": self.delivery_p95,
            "read_p50": self.read_p50,
            "read_p95": self.read_p95,
        }


def percentile(values: array[float] | list[float], percent: float) -> float | None:
    """Return the nearest-rank ``percent`` percentile of ``values``, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def day_range(since: date, until: date) -> tuple[datetime, datetime]:
    """Return the UTC instants that bound the days ``since`` to ``until``, both included."""
    return datetime.combine(since, time.min, UTC), datetime.combine(until + timedelta(days=1), time.min, UTC)


# The notification_type of aggregates over every type (``by_type=False``).
ALL_TYPES = "*"


def daily(since: date, until: date, notification_type: str | None = None, by_type: bool = True) -> list[DayStats]:
    """Return the aggregates of each type and UTC day from ``since`` to ``until`` (both included), in order.

    With ``by_type=False``, one entry per day covers every type, with ``notification_type`` ``"*"``.
    """
    start, end = day_range(since, until)
    rows = Notification.objects.filter(created__gte=start, created__lt=end)
    if notification_type is not None:
        rows = rows.filter(notification_type=notification_type)
    stats: dict[tuple[date, str], DayStats] = {}
    counts = (
        rows.annotate(day=TruncDate("created", tzinfo=UTC))
        .values("day", *(["notification_type"] if by_type else []))
        .annotate(
            sent=Count("pk"),
            delivered=Count("delivered_at"),
            seen=Count("seen_at"),
            clicked=Count("clicked_at"),
            read=Count("read_at"),
            acted=Count("pk", filter=~Q(action_taken="")),
        )
        .order_by()
    )
    for row in counts:
        key = (row["day"], row.get("notification_type", ALL_TYPES))
        stats[key] = DayStats(
            day=row["day"],
            notification_type=key[1],
            sent=row["sent"],
            delivered={LIVE_CHANNEL: row["delivered"]},
            seen=row["seen"],
            clicked=row["clicked"],
            read=row["read"],
            acted=row["acted"],
        )
    channels = (
        NotificationDelivery.objects.filter(notification__in=rows)
        .annotate(day=TruncDate("notification__created", tzinfo=UTC))
        .values("day", "channel", *(["notification__notification_type"] if by_type else []))
        .annotate(delivered=Count("pk"))
        .order_by()
    )
    for row in channels:
        entry = stats.get((row["day"], row.get("notification__notification_type", ALL_TYPES)))
        if entry is not None:
            entry.delivered[row["channel"]] = row["delivered"]
    _add_pending(start, end, notification_type, by_type, stats)
    _add_percentiles(rows, stats, by_type)
    return [stats[key] for key in sorted(stats)]


def _add_pending(
    start: datetime,
    end: datetime,
    notification_type: str | None,
    by_type: bool,
    stats: dict[tuple[date, str], DayStats],
) -> None:
    """Count the broadcasts' recipients whose rows are not written yet as sent on the broadcast's day (the day
    their rows will carry)."""
    pending = PendingBroadcast.objects.filter(broadcast__created__gte=start, broadcast__created__lt=end)
    if notification_type is not None:
        pending = pending.filter(broadcast__notification_type=notification_type)
    counts = (
        pending.annotate(day=TruncDate("broadcast__created", tzinfo=UTC))
        .values("day", *(["broadcast__notification_type"] if by_type else []))
        .annotate(sent=Count("user"))
        .order_by()
    )
    for row in counts:
        key = (row["day"], row.get("broadcast__notification_type", ALL_TYPES))
        entry = stats.setdefault(key, DayStats(day=key[0], notification_type=key[1], delivered={LIVE_CHANNEL: 0}))
        entry.sent += row["sent"]


def _add_percentiles(rows: Any, stats: dict[tuple[date, str], DayStats], by_type: bool) -> None:
    to_delivery: dict[tuple[date, str], array[float]] = {}
    to_read: dict[tuple[date, str], array[float]] = {}
    delivered = rows.filter(delivered_at__isnull=False).values_list(
        "notification_type", "created", "delivered_at", "read_at"
    )
    for notification_type, created, delivered_at, read_at in delivered.iterator(chunk_size=5000):
        key = (created.astimezone(UTC).date(), notification_type if by_type else ALL_TYPES)
        to_delivery.setdefault(key, array("d")).append(max(0.0, (delivered_at - created).total_seconds()))
        if read_at is not None:
            # Read before the ack arrived (on another page, say) counts as read at once.
            to_read.setdefault(key, array("d")).append(max(0.0, (read_at - delivered_at).total_seconds()))
    for key, entry in stats.items():
        entry.delivery_p50 = percentile(to_delivery.get(key, []), 50)
        entry.delivery_p95 = percentile(to_delivery.get(key, []), 95)
        entry.read_p50 = percentile(to_read.get(key, []), 50)
        entry.read_p95 = percentile(to_read.get(key, []), 95)


def channels_of(stats: list[DayStats]) -> list[str]:
    """Return the delivery channels found in ``stats``: "live" first, then the others by name."""
    others = sorted({channel for entry in stats for channel in entry.delivered} - {LIVE_CHANNEL})
    return [LIVE_CHANNEL, *others]


# The events of a timeline, in English for code and translatable for the admin page.
EVENT_NAMES = {
    "created": ("created", pgettext_lazy("notification timeline event", "created")),
    "delivered": (
        "delivered (%(channel)s)",
        pgettext_lazy("notification timeline event: delivered on a channel", "delivered (%(channel)s)"),
    ),
    "seen": ("seen", pgettext_lazy("notification timeline event", "seen")),
    "clicked": ("clicked", pgettext_lazy("notification timeline event", "clicked")),
    "read": ("read", pgettext_lazy("notification timeline event", "read")),
    "acted": (
        "acted: %(action)s",
        pgettext_lazy("notification timeline event: an action was taken", "acted: %(action)s"),
    ),
}


def timeline(notification: Notification, translated: bool = False) -> list[tuple[str, datetime]]:
    """Return what happened to one notification and when, in order: created, delivered (per channel), seen,
    clicked, read, acted.

    Events are named in English ("delivered (email)"), or with ``translated=True`` in the active language, for
    display.
    """
    events: list[tuple[str, dict[str, str], datetime | None]] = [
        ("created", {}, notification.created),
        ("delivered", {"channel": LIVE_CHANNEL}, notification.delivered_at),
    ]
    for channel, delivered_at in notification.deliveries.order_by("delivered_at").values_list(
        "channel", "delivered_at"
    ):
        events.append(("delivered", {"channel": channel}, delivered_at))
    events += [("seen", {}, notification.seen_at), ("clicked", {}, notification.clicked_at)]
    events.append(("read", {}, notification.read_at))
    if notification.action_taken:
        events.append(("acted", {"action": notification.action_taken}, notification.acted_at))
    present = [
        (str(EVENT_NAMES[event][1 if translated else 0]) % values, moment)
        for event, values, moment in events
        if moment is not None
    ]
    return sorted(present, key=lambda event: event[1])


def funnel(broadcast_id: uuid.UUID | str) -> dict[str, int]:
    """Return how many rows one broadcast stored, and how many of them were delivered, seen and read.

    The recipients whose rows are not written yet (see :mod:`.fanout`) count as rows: stored, not delivered.
    """
    steps: dict[str, int] = Notification.objects.filter(broadcast_id=broadcast_id).aggregate(
        rows=Count("pk"), delivered=Count("delivered_at"), seen=Count("seen_at"), read=Count("read_at")
    )
    steps["rows"] += PendingBroadcast.objects.filter(broadcast_id=broadcast_id).count()
    return steps


__all__ = ["ALL_TYPES", "DayStats", "channels_of", "daily", "funnel", "percentile", "timeline"]
