"""notify() and broadcast(): store notifications, then send them live after commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import Promise

from . import hub, protocol
from .conf import live_settings
from .models import Notification
from .services import unread_counts
from .signals import notification_created

__all__ = [
    "abroadcast",
    "anotify",
    "broadcast",
    "broadcast_system_notification",
    "create_and_send_notification",
    "notify",
    "send_notification_to_user",
]


def notify(
    recipient: Any,
    *,
    title: str,
    message: str = "",
    notification_type: str | None = None,
    sender: Any = None,
    target: models.Model | None = None,
    url: str = "",
    data: dict[str, Any] | None = None,
) -> Notification | list[Notification]:
    """Store a notification for one user or many, and send it live once the transaction commits.

    ``recipient`` is a user, or an iterable or QuerySet of users. Return the
    Notification for one user, or a list of them (one per distinct user, in
    order) for many.
    """
    template = _build(title, message, notification_type, sender, target, url, data)
    single = isinstance(recipient, models.Model)
    if single and recipient.pk is None:
        raise TypeError("recipient must be a saved user")
    recipient_ids = [recipient.pk] if single else _distinct_ids(recipient)
    rows = [_copy(template, recipient_id) for recipient_id in recipient_ids]
    with transaction.atomic():
        if single:
            rows[0].save(force_insert=True)
        elif rows:
            _bulk_insert(rows)
    if rows:
        notification_created.send(sender=Notification, notifications=rows)
        tail = protocol.notification_tail(template.shared_payload())
        pairs = [(row.recipient_id, row.pk) for row in rows]
        transaction.on_commit(lambda: _send_stored(tail, pairs))
    return rows[0] if single else rows


def broadcast(
    *,
    title: str,
    message: str = "",
    notification_type: str | None = None,
    users: Any = None,
) -> int:
    """Store a notification for many users in batched inserts and send it with one fan-out message.

    ``users=None`` means every active user. Return the number of users notified.
    """
    template = _build(title, message, notification_type, None, None, "", None)
    if users is None:
        user_ids: Iterable[Any] = (
            get_user_model().objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True).iterator()
        )
    else:
        user_ids = _distinct_ids(users)
    batch_size = int(live_settings.BATCH_SIZE)
    pairs: list[tuple[Any, int]] = []
    with transaction.atomic():
        for batch in _batches(user_ids, batch_size):
            rows = [_copy(template, recipient_id) for recipient_id in batch]
            _bulk_insert(rows)
            pairs.extend((row.recipient_id, row.pk) for row in rows)
    if pairs:
        notification_created.send(
            sender=Notification,
            recipient_ids=[recipient_id for recipient_id, _ in pairs],
            notification_ids=[notification_id for _, notification_id in pairs],
        )
        tail = protocol.notification_tail(template.shared_payload())
        transaction.on_commit(lambda: _send_stored(tail, pairs, everyone=users is None))
    return len(pairs)


anotify = sync_to_async(notify, thread_sensitive=True)
anotify.__doc__ = "Do notify() from async code."
abroadcast = sync_to_async(broadcast, thread_sensitive=True)
abroadcast.__doc__ = "Do broadcast() from async code."


def create_and_send_notification(
    user: Any,
    notification_type: str,
    title: str,
    message: str,
    sender: Any = None,
    related_object_id: Any = None,
    related_object_type: str | None = None,
) -> int:
    """Store and send one notification; return its id. Kept for code written against the original helpers."""
    data = {}
    if related_object_id is not None:
        data["related_object_id"] = related_object_id
    if related_object_type is not None:
        data["related_object_type"] = related_object_type
    notification = notify(
        user, title=title, message=message, notification_type=notification_type, sender=sender, data=data
    )
    return notification.pk  # type: ignore[union-attr]


def send_notification_to_user(user_id: Any, notification_data: dict[str, Any]) -> None:
    """Push a notification dict to a user's open sockets now, storing nothing."""
    frame = protocol.notification_frame(notification_data)
    hub.publish(hub.frames_message([(hub.user_key(user_id), [frame])]))


def broadcast_system_notification(title: str, message: str, user_ids: Iterable[Any] | None = None) -> int:
    """Broadcast a "system" notification to all active users or to ``user_ids``; return the count."""
    users = None
    if user_ids is not None:
        users = get_user_model().objects.filter(pk__in=list(user_ids)).order_by("pk")
    return broadcast(title=title, message=message, notification_type="system", users=users)


def _build(
    title: Any,
    message: Any,
    notification_type: str | None,
    sender: Any,
    target: models.Model | None,
    url: Any,
    data: Any,
) -> Notification:
    """Validate the arguments once and return an unsaved template row."""
    notification_type = notification_type or live_settings.DEFAULT_NOTIFICATION_TYPE
    strings = {"title": title, "message": message, "url": url, "notification_type": notification_type}
    for name, value in strings.items():
        if isinstance(value, Promise):
            # gettext_lazy() and reverse_lazy(): resolved now, in the active language.
            strings[name] = value = str(value)
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    title, message, url, notification_type = strings.values()
    if not title.strip():
        raise ValueError("title must not be empty")
    allowed = live_settings.NOTIFICATION_TYPES
    if allowed is not None and notification_type not in {value for value, _label in allowed}:
        raise ValueError(
            f"Unknown notification_type {notification_type!r}; LIVE_NOTIFY['NOTIFICATION_TYPES'] allows "
            + ", ".join(repr(value) for value, _label in allowed)
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict, not {type(data).__name__}")
    # Round-trip through JSON so the live payload equals what the database returns later.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    now = timezone.now()
    template = Notification(
        sender=sender,
        notification_type=notification_type,
        title=title,
        message=message,
        url=url,
        data=data,
        created=now,
        modified=now,
    )
    if target is not None:
        if target.pk is None:
            raise ValueError("target must be saved before it can be notified about")
        template.target_content_type = ContentType.objects.get_for_model(target)
        template.target_object_id = str(target.pk)
    for field in ("title", "notification_type", "url"):
        max_length = Notification._meta.get_field(field).max_length
        if len(getattr(template, field)) > max_length:
            raise ValueError(f"{field} is longer than {max_length} characters")
    return template


def _copy(template: Notification, recipient_id: Any) -> Notification:
    row = Notification(
        recipient_id=recipient_id,
        sender=template.sender,
        notification_type=template.notification_type,
        title=template.title,
        message=template.message,
        url=template.url,
        data=template.data,
        target_content_type_id=template.target_content_type_id,
        target_object_id=template.target_object_id,
        created=template.created,
        modified=template.modified,
    )
    return row


def _distinct_ids(users: Any) -> list[Any]:
    """Return the distinct primary keys of ``users`` (a QuerySet or an iterable of users), in order."""
    if isinstance(users, models.QuerySet):
        values: Iterable[Any] = users.values_list("pk", flat=True)
    elif isinstance(users, (str, bytes)) or not isinstance(users, Iterable):
        raise TypeError("recipient must be a user, or an iterable or QuerySet of users")
    else:
        values = []
        for user in users:
            if not isinstance(user, models.Model) or user.pk is None:
                raise TypeError(f"recipients must be saved users, got {user!r}")
            values.append(user.pk)
    return list(dict.fromkeys(values))


def _batches(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


def _bulk_insert(rows: list[Notification]) -> None:
    Notification.objects.bulk_create(rows, batch_size=int(live_settings.BATCH_SIZE))
    if rows and rows[0].pk is None:
        # Databases that do not return ids from a bulk insert (MySQL): read them back.
        ids = dict(
            Notification.objects.filter(
                created=rows[0].created, title=rows[0].title, recipient_id__in=[row.recipient_id for row in rows]
            ).values_list("recipient_id", "id")
        )
        for row in rows:
            row.pk = ids.get(row.recipient_id)


def _send_stored(tail: str, pairs: list[tuple[Any, int]], everyone: bool = False) -> None:
    """Send stored rows of one notification to their recipients' sockets, with their unread counts."""
    counts: dict[str, int] | None
    try:
        counts = unread_counts(recipient_id for recipient_id, _ in pairs)
    except Exception:
        hub.logger.exception("Could not count unread notifications; sending them without counts")
        counts = None
    targets = []
    for recipient_id, notification_id in pairs:
        key = hub.user_key(recipient_id)
        targets.append((key, notification_id, None if counts is None else counts.get(key, 0)))
    hub.publish(hub.notification_message(tail, targets), everyone=everyone)
