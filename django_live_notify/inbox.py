"""Inbox state: seen, archived, snoozed and the outcome of a used action, pushed to every tab of the user.

Read state stays in ``services``. Archiving and snoozing also mark a row read
and seen, so the unread badge only counts what the feed shows. A snoozed row
is hidden until its time; then :func:`wake_snoozed` (called by each tab's
timer through the API, and by every inbox list) makes it unread and unseen
again, and tells every tab so.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone

from . import protocol, publish, reading
from .models import Notification, NotificationQuerySet
from .signals import notification_read

if TYPE_CHECKING:
    from .api_types import RequestUser

# Most ids one mark_seen frame or request may name.
MAX_IDS = 100
TABS = ("unread", "all", "archived")


class InboxError(ValueError):
    """Input the inbox cannot use; its message is shown to the client."""


def visible(user: RequestUser, now: datetime | None = None) -> NotificationQuerySet:
    """Return the user's rows the feed shows: not archived, and not snoozed into the future."""
    now = now or timezone.now()
    return (
        Notification.objects.for_user(user)
        .filter(archived_at__isnull=True)
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
    )


def feed(user: RequestUser, tab: str) -> NotificationQuerySet:
    """Return the rows of one inbox tab, newest first: ``unread``, ``all`` or ``archived``."""
    if tab not in TABS:
        raise InboxError(f"tab must be one of: {', '.join(TABS)}.")
    if tab == "archived":
        rows = Notification.objects.for_user(user).filter(archived_at__isnull=False)
    else:
        rows = visible(user)
        if tab == "unread":
            rows = rows.unread()
    return rows.order_by("-id")


def unseen_count(user: RequestUser) -> int:
    return visible(user).filter(seen_at__isnull=True).count()


def clean_ids(ids: Any) -> list[int]:
    """Return ``ids`` as a list of positive integers; raise InboxError for anything else."""
    if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
        raise InboxError(f"'ids' must be a list of 1 to {MAX_IDS} notification ids.")
    if not all(type(value) is int and 0 < value < 2**63 for value in ids):
        raise InboxError("'ids' must hold positive integers only.")
    return list(dict.fromkeys(ids))


def clean_until(value: Any) -> datetime:
    """Return the ISO 8601 time ``value`` as an aware datetime in the future; raise InboxError otherwise."""
    if not isinstance(value, str) or len(value) > 40:
        raise InboxError("'until' must be an ISO 8601 time, e.g. 2030-01-31T09:00:00Z.")
    try:
        until = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise InboxError("'until' must be an ISO 8601 time, e.g. 2030-01-31T09:00:00Z.") from None
    if timezone.is_naive(until):
        raise InboxError("'until' must carry a time zone (Z or +hh:mm).")
    if until <= timezone.now():
        raise InboxError("'until' must be in the future.")
    return until


def mark_seen(user: RequestUser, ids: list[int]) -> int:
    """Mark the user's rows among ``ids`` seen; return how many changed (ids of others are ignored)."""
    rows = Notification.objects.for_user(user).filter(pk__in=ids, seen_at__isnull=True)
    changed_ids = list(rows.values_list("pk", flat=True))
    if changed_ids:
        Notification.objects.filter(pk__in=changed_ids).update(seen_at=timezone.now())
        publish.push_to_user(
            user, [protocol.encode({"type": "seen", "ids": sorted(changed_ids)})], counts=count_frames
        )
    return len(changed_ids)


def mark_all_seen(user: RequestUser) -> int:
    """Mark every row the feed shows seen; return how many changed."""
    changed = visible(user).filter(seen_at__isnull=True).update(seen_at=timezone.now())
    if changed:
        publish.push_to_user(user, [protocol.encode({"type": "seen", "all": True})], counts=count_frames)
    return changed


def archive(user: RequestUser, notification_id: int, archived: bool = True) -> bool:
    """Archive (or unarchive) one of the user's rows; return False when the user has no such row.

    Archiving marks the row read and seen too: it is done with.
    """
    rows = Notification.objects.for_user(user).filter(pk=notification_id)
    row = rows.first()
    if row is None:
        return False
    now = timezone.now()
    frames = []
    if archived:
        was_unread = row.read_at is None
        rows.update(
            archived_at=row.archived_at or now,
            read_at=row.read_at or now,
            seen_at=row.seen_at or now,
            snoozed_until=None,
        )
        if was_unread:
            notification_read.send(sender=Notification, user=user, ids=[notification_id], count=1)
            frames.append(protocol.read_frame([notification_id]))
    else:
        rows.update(archived_at=None)
    frames.append(protocol.encode({"type": "archived", "ids": [notification_id], "archived": archived}))
    publish.push_to_user(user, frames, counts=count_frames)
    return True


def snooze(user: RequestUser, notification_id: int, until: datetime) -> bool:
    """Hide one of the user's rows until ``until``; return False when the user has no such row.

    The row is read and seen while it sleeps; :func:`wake_snoozed` brings it back unread and unseen.
    """
    rows = Notification.objects.for_user(user).filter(pk=notification_id)
    row = rows.first()
    if row is None:
        return False
    now = timezone.now()
    rows.update(snoozed_until=until, read_at=row.read_at or now, seen_at=row.seen_at or now, archived_at=None)
    frames = []
    if row.read_at is None:
        notification_read.send(sender=Notification, user=user, ids=[notification_id], count=1)
        frames.append(protocol.read_frame([notification_id]))
    frames.append(protocol.encode({"type": "snoozed", "ids": [notification_id], "until": until.isoformat()}))
    publish.push_to_user(user, frames, counts=count_frames)
    return True


def wake_snoozed(user: RequestUser) -> list[int]:
    """Bring back the user's snoozed rows whose time has come, unread and unseen; return their ids."""
    due = Notification.objects.for_user(user).filter(snoozed_until__lte=timezone.now())
    ids = list(due.values_list("pk", flat=True))
    if ids:
        # Only rows still due: a tab that woke them a moment earlier already said so.
        woken = Notification.objects.filter(pk__in=ids, snoozed_until__isnull=False).update(
            snoozed_until=None, read_at=None, seen_at=None
        )
        if woken:
            publish.push_to_user(
                user, [protocol.encode({"type": "snoozed", "ids": sorted(ids), "until": None})], counts=count_frames
            )
    return ids


def next_wake(user: RequestUser) -> datetime | None:
    """Return when the user's earliest snoozed row comes back, or None."""
    return (
        Notification.objects.for_user(user)
        .filter(snoozed_until__isnull=False)
        .order_by("snoozed_until")
        .values_list("snoozed_until", flat=True)
        .first()
    )


def record_outcome(user: RequestUser, notification: Notification, action: str, label: str) -> bool:
    """Claim the one use of the row's actions for ``action`` with the outcome ``label``.

    Return False when an action of the row was used already (by this tab, another
    one, or the history page): actions run once.
    """
    claimed = Notification.objects.filter(pk=notification.pk, action_taken="").update(
        action_taken=action, action_outcome=label[:100], acted_at=timezone.now()
    )
    if not claimed:
        return False
    notification.action_taken, notification.action_outcome = action, label[:100]
    frame = {"type": "action_outcome", "id": notification.pk, "outcome": notification.outcome_payload()}
    publish.push_to_user(user, [protocol.encode(frame)])
    return True


def counts(user: RequestUser) -> dict[str, Any]:
    """Return the counts every inbox answer carries: unread, unseen, and the next snooze wake-up."""
    wake_at = next_wake(user)
    return {
        "unread_count": reading.unread_count(user),
        "unseen_count": unseen_count(user),
        "next_wake": wake_at.isoformat() if wake_at is not None else None,
    }


def count_frames(user: RequestUser) -> list[str]:
    return [
        protocol.unread_count_frame(reading.unread_count(user)),
        protocol.encode({"type": "unseen_count", "count": unseen_count(user)}),
    ]
