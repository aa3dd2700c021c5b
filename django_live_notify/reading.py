"""Read state: unread counts, marking read, the newest id; the database side of the consumer, views and API."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import router
from django.db.models import Count
from django.utils import timezone

from . import fanout, protocol, publish
from .api_types import RequestUser, UserId
from .batching import batches
from .models import Notification
from .signals import notification_read
from .storing import in_list


def unread_count(user: RequestUser) -> int:
    """Return the number of unread notifications of ``user``."""
    return Notification.objects.for_user(user).unread().count()


def unread_counts(recipient_ids: Iterable[UserId]) -> dict[str, int]:
    """Return the unread count of each of ``recipient_ids``, one query per batch, keyed by registry key.

    Their pending broadcasts are written first, so they count.
    """
    recipient_ids = list(recipient_ids)
    fanout.materialize(recipient_ids)
    return counted_unread(recipient_ids)


def counted_unread(recipient_ids: Iterable[UserId]) -> dict[str, int]:
    """Return what :func:`unread_counts` does, for users whose pending broadcasts were written just before."""
    counts: dict[str, int] = {}
    db = router.db_for_write(Notification)  # Where the rows were written just before: no replica lag.
    for batch in batches(recipient_ids):
        rows = (
            Notification.objects.using(db)
            .unexpired()
            .filter(in_list(batch, db, "recipient_id"), read_at__isnull=True)
            .order_by()
            .values("recipient_id")
            .annotate(count=Count("id"))
            .values_list("recipient_id", "count")
        )
        counts.update((protocol.user_key(recipient_id), count) for recipient_id, count in rows)
    return counts


def latest_id(user: RequestUser) -> int:
    """Return the id of the user's newest notification, or 0."""
    return Notification.objects.for_user(user).order_by("-id").values_list("id", flat=True).first() or 0


def mark_read(user: RequestUser, notification_id: int) -> bool:
    """Mark one of the user's notifications read; return False when the user has no such notification.

    A notification of another user is "not found", exactly like a missing one.
    """
    notifications = Notification.objects.for_user(user).filter(pk=notification_id)
    changed = notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    if not changed and not notifications.exists():
        return False
    if changed:
        notification_read.send(sender=Notification, user=user, ids=[notification_id], count=changed)
    publish.push_to_user(user, [protocol.read_frame([notification_id])] if changed else [], counts=count_frames)
    return True


def mark_unread(user: RequestUser, notification_id: int) -> bool:
    """Mark one of the user's notifications unread again; return False when the user has no such notification.

    An archived or snoozed row comes back to the feed too: the unread badge only counts what the feed shows.
    A notification of another user is "not found", exactly like a missing one.
    """
    notifications = Notification.objects.for_user(user).filter(pk=notification_id)
    changed = notifications.exclude(read_at__isnull=True, archived_at__isnull=True, snoozed_until__isnull=True).update(
        read_at=None, archived_at=None, snoozed_until=None
    )
    if not changed and not notifications.exists():
        return False
    publish.push_to_user(user, [protocol.unread_frame([notification_id])] if changed else [], counts=count_frames)
    return True


def mark_all_read(user: RequestUser) -> int:
    """Mark every notification of the user read; return how many changed."""
    changed = Notification.objects.for_user(user).mark_all_read()
    if changed:
        notification_read.send(sender=Notification, user=user, ids=None, count=changed)
    publish.push_to_user(user, [protocol.READ_ALL] if changed else [], counts=count_frames)
    return changed


def count_frames(user: RequestUser) -> list[str]:
    """Return the frame that gives the user's tabs their unread count."""
    return [protocol.unread_count_frame(unread_count(user))]
