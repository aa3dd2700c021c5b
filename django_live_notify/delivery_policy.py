"""The delivery policy: who gets which notification on which channel, and when.

Planning records a pending :class:`~django_live_notify.models.Delivery` per row and channel that the recipient
wants, due once the channel's delay for the type has passed; planning a row twice changes nothing. When a row is
due, the worker in delivery.py asks here again whether it still goes out (:func:`skip_reason`) and whether the
channel's per-user bounds let it go now (:func:`deferred_until`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from . import preferences
from .backends import DeliveryBackend, get_backends
from .conf import live_settings
from .models import Delivery, Notification

__all__ = ["POLICIES", "deferred_until", "plan", "plan_range", "plan_recent", "skip_reason"]

STATUS = Delivery.STATUS
POLICIES = ("always", "offline", "unread")
# What planning reads of a notification.
PLANNED_FIELDS = ("pk", "recipient_id", "notification_type", "created")


# --------------------------------------------------------------------------- planning


def _due_rows(rows: Iterable[Notification], backend: DeliveryBackend, now: datetime, immediate: bool):
    rows = list(rows)
    wanted = preferences.channels_enabled(backend.name, {(row.recipient_id, row.notification_type) for row in rows})
    for row in rows:
        if not wanted[(row.recipient_id, row.notification_type)]:
            continue
        delay = 0.0 if immediate else backend.delay_for(row.notification_type)
        yield Delivery(
            notification_id=row.pk,
            recipient_id=row.recipient_id,
            channel=backend.name,
            next_attempt_at=max(row.created + timedelta(seconds=delay), now if immediate else row.created),
        )


def plan(notification_ids: Iterable[int], *, immediate: bool = False, now: datetime | None = None) -> int:
    """Record a pending delivery per row and channel the recipient wants; return how many were new.

    Rows already recorded are left as they are, so planning twice changes nothing.
    """
    now = now or timezone.now()
    ids = sorted(set(notification_ids))
    created = 0
    size = live_settings.batch_size
    for start in range(0, len(ids), size):
        rows = list(Notification.objects.filter(pk__in=ids[start : start + size]).only(*PLANNED_FIELDS))
        created += _record(rows, now, immediate)
    return created


def plan_range(first: int, last: int, now: datetime | None = None) -> int:
    """Record the deliveries of the rows with ids from ``first`` to ``last``, ``BATCH_SIZE`` rows per query."""
    return _record_pages(Notification.objects.filter(pk__lte=last), first - 1, now or timezone.now())


def _record_pages(rows: QuerySet[Notification], after: int, now: datetime) -> int:
    """Record the deliveries of ``rows`` with ids above ``after``, in id order, ``BATCH_SIZE`` rows per query."""
    created = 0
    while page := list(rows.filter(pk__gt=after).order_by("pk").only(*PLANNED_FIELDS)[: live_settings.batch_size]):
        created += _record(page, now, immediate=False)
        after = page[-1].pk
    return created


def _record(rows: list[Notification], now: datetime, immediate: bool) -> int:
    created = 0
    for backend in get_backends():
        deliveries = list(_due_rows(rows, backend, now, immediate))
        if deliveries:
            before = Delivery.objects.filter(
                channel=backend.name, notification_id__in=[d.notification_id for d in deliveries]
            ).count()
            Delivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=live_settings.batch_size)
            created += len(deliveries) - before
    return created


def _first_id_since(cutoff: datetime) -> int | None:
    """Return the smallest id of a row created at or after ``cutoff``, by binary search on the primary key.

    Ids grow with time, so this costs a few primary-key lookups where a filter on ``created`` would scan the table.
    """
    bounds = Notification.objects.order_by().values_list("pk", flat=True)
    low, high = bounds.order_by("pk").first(), bounds.order_by("-pk").first()
    if low is None or high is None:
        return None
    while low < high:
        middle = (low + high) // 2
        row = Notification.objects.filter(pk__gte=middle).order_by("pk").values_list("pk", "created").first()
        if row is None:
            return None
        if row[1] >= cutoff:
            high = middle
        else:
            low = row[0] + 1
    return low


def plan_recent(now: datetime | None = None) -> int:
    """Record deliveries of rows from the last ``DELIVERY_LOOKBACK_HOURS`` that have none yet (a lost message)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=live_settings.delivery_lookback_hours)
    backends = get_backends()
    if not backends:
        return 0
    start = _first_id_since(cutoff)
    if start is None:
        return 0
    missing: Any = Q()
    for backend in backends:
        missing |= ~Exists(Delivery.objects.filter(notification=OuterRef("pk"), channel=backend.name))
    return _record_pages(Notification.objects.filter(created__gte=cutoff).filter(missing), start - 1, now)


# --------------------------------------------------------------------------- just before sending


def skip_reason(backend: DeliveryBackend, row: Delivery, now: datetime) -> str:
    """Return why ``row`` should no longer go out on ``backend`` ("" when it should)."""
    notification = row.notification
    if notification.expires_at is not None and notification.expires_at <= now:
        return "expired"
    policy = backend.policy_for(notification.notification_type)
    if policy == "offline" and notification.delivered_at is not None:
        # A client acked it (analytics on): the user had a tab open when it was sent, so it is not "offline".
        return "delivered live"
    if policy in ("offline", "unread"):
        if notification.read_at is not None:
            return "read"
        if notification.seen_at is not None:
            return "seen"
        if notification.archived_at is not None:
            return "archived"
    return ""


def deferred_until(backend: DeliveryBackend, user_id: Any, now: datetime) -> datetime | None:
    """Return when the per-user bounds of ``backend`` let the next send go, or None when it may go now."""
    if not backend.max_per_hour and not backend.min_interval:
        return None
    # Rows sent by one send() share their sent_at: each distinct value is one message.
    sent = (
        Delivery.objects.filter(
            recipient_id=user_id, channel=backend.name, status=STATUS.sent, sent_at__gte=now - timedelta(hours=1)
        )
        .order_by()
        .values_list("sent_at", flat=True)
        .distinct()
    )
    times = sorted(moment for moment in sent if moment is not None)
    later = now
    if backend.min_interval and times:
        later = max(later, times[-1] + timedelta(seconds=backend.min_interval))
    if backend.max_per_hour and len(times) >= backend.max_per_hour:
        later = max(later, times[-backend.max_per_hour] + timedelta(hours=1))
    return later if later > now else None
