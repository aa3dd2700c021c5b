"""Grouping: a notification with a ``group_key`` folds into each recipient's unread row of that key.

See docs/grouping.rst. :func:`update_groups` runs inside the transaction of ``notify()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from django.db import connections, router
from django.db.models import F
from django.utils.functional import Promise
from django.utils.text import Truncator

from . import preferences
from .api_types import UserId
from .batching import batches
from .conf import live_settings
from .models import Notification

#: A checked ``group_title``: None, a format string over ``{count}`` and ``{others}``, or a callable of the count.
GroupTitle: TypeAlias = str | Callable[[int], str] | None

# What a grouped row takes from the notification folded into it (besides its title and count).
SHARED_FIELDS = (
    "message",
    "url",
    "data",
    "actions",
    "sender_id",
    "target_content_type_id",
    "target_object_id",
    "notification_type",
    "expires_at",
    "modified",
)


def check_group_title(group_title: object) -> GroupTitle:
    """Return ``group_title`` checked: None, a format string over {count} and {others}, or a callable."""
    if group_title is None or (callable(group_title) and not isinstance(group_title, Promise)):
        return group_title
    if isinstance(group_title, Promise):
        group_title = str(group_title)
    if not isinstance(group_title, str):
        raise TypeError(f"group_title must be a string or a callable, not {type(group_title).__name__}")
    try:
        group_title.format(count=2, others=1)
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        raise ValueError(
            f"group_title {group_title!r} may use {{count}} and {{others}} only "
            f"(write literal braces as {{{{ and }}}}): {error}"
        ) from None
    return group_title


def grouped_title(group_title: GroupTitle, count: int, title: str) -> str:
    """Return the title of a grouped row that holds ``count`` notifications."""
    if group_title is None:
        return title
    text = group_title(count) if callable(group_title) else group_title.format(count=count, others=count - 1)
    text = str(text)
    if not text.strip():
        raise ValueError("group_title gave an empty title")
    max_length: int = Notification._meta.get_field("title").max_length  # type: ignore[assignment]  # A CharField
    return Truncator(text).chars(max_length)


def update_groups(
    template: Notification,
    recipient_ids: list[UserId],
    delivery: dict[UserId, str],
    group_title: GroupTitle,
) -> dict[UserId, Notification]:
    """Fold the template into each recipient's unread row of its group; return the updated rows by recipient.

    One locking query and one or two UPDATEs per batch of recipients, however many rows change.
    """
    lock_recipients(recipient_ids)
    updated: dict[UserId, Notification] = {}
    for batch in batches(recipient_ids):
        existing: dict[UserId, Notification] = {}
        locked = (
            Notification.objects.unexpired()
            .filter(recipient_id__in=batch, group_key=template.group_key, read_at__isnull=True)
            .select_for_update()
            .order_by("id")
        )
        for row in locked:
            existing[row.recipient_id] = row  # The newest, should a race have left two.
        if not existing:
            continue
        for row in existing.values():
            row.group_count += 1
            row.silent = delivery[row.recipient_id] == preferences.STORE
            row.title = grouped_title(group_title, row.group_count, template.title)
            for field in SHARED_FIELDS:
                setattr(row, field, getattr(template, field))
            row.sender = template.sender
            row.seen_at = None  # news in the group: unseen again, like a new row
        rows = list(existing.values())
        # Titles differ by count only with a group_title, "silent" by preference: most updates are one query.
        shared = {field: getattr(template, field) for field in SHARED_FIELDS}
        varying = []
        for field in ("title", "silent"):
            values = {getattr(row, field) for row in rows}
            if len(values) == 1:
                shared[field] = values.pop()
            else:
                varying.append(field)
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
            group_count=F("group_count") + 1, seen_at=None, **shared
        )
        if varying:
            Notification.objects.bulk_update(rows, varying, batch_size=live_settings.batch_size)
        updated.update(existing)
    return updated


def lock_recipients(recipient_ids: list[UserId]) -> None:
    """Lock the recipients' user rows until the transaction ends, so that two calls grouping for one user
    take turns: ``SELECT ... FOR UPDATE`` on the grouped rows cannot lock a row that does not exist yet.

    Locks are taken in primary key order so that two calls never wait on each other. SQLite has no row
    locks: there, IMMEDIATE transactions make writers take turns (check W004).
    """
    db = router.db_for_write(Notification)
    features = connections[db].features
    if not features.has_select_for_update:
        return
    users = Notification._meta.get_field("recipient").related_model._base_manager.using(db)
    no_key = features.has_select_for_no_key_update  # PostgreSQL: the lock then does not block foreign key checks.
    for batch in batches(sorted(recipient_ids)):
        list(users.filter(pk__in=batch).order_by("pk").select_for_update(no_key=no_key).values_list("pk", flat=True))
