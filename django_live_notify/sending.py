"""The public way in: :func:`notify` and :func:`broadcast` store through :mod:`.storing`, then send once the
transaction commits (:func:`send_stored`, or one broadcast message)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.db.models import Max

from . import fanout, grouping, metrics, preferences, protocol, publish, storing
from .api_types import JSONDict, Recipients, User, UserId, Users
from .models import Notification
from .reading import unread_counts
from .signals import notification_created, notification_updated

__all__ = ["abroadcast", "anotify", "broadcast", "notify", "send_stored"]


def notify(
    recipient: Recipients,
    *,
    title: str,
    message: str = "",
    notification_type: str | None = None,
    sender: User | None = None,
    target: models.Model | None = None,
    url: str = "",
    data: JSONDict | None = None,
    group_key: str | None = "",
    group_title: str | Callable[[int], str] | None = None,
    actions: list[dict[str, str]] | None = None,
    expires_at: datetime | None = None,
) -> Notification | list[Notification] | None:
    """Store a notification for one user or many, and send it live once the transaction commits.

    ``recipient`` is a user, or an iterable or QuerySet of users. Each
    recipient's preference for the type applies: "off" stores nothing, "store"
    stores the row without a live toast. With ``group_key``, a recipient's
    unread notification of that key is updated instead of a new one stored.
    Return the Notification for one user (None when they turned the type off),
    or a list of them (one per distinct user who gets one, in order) for many.
    """
    template = storing.build(
        title, message, notification_type, sender, target, url, data, group_key, actions, expires_at
    )
    group_title = grouping.check_group_title(group_title)
    single = isinstance(recipient, models.Model)
    recipient_ids = (
        [storing.user_pk(recipient, "recipient")] if single else storing.distinct_ids(recipient, "recipient")
    )
    delivery = preferences.deliveries(recipient_ids, template.notification_type)
    stored_ids = [recipient_id for recipient_id in recipient_ids if delivery[recipient_id] != preferences.OFF]
    with transaction.atomic():
        updated = grouping.update_groups(template, stored_ids, delivery, group_title) if template.group_key else {}
        rows = [
            storing.copy_row(template, recipient_id, silent=delivery[recipient_id] == preferences.STORE)
            for recipient_id in stored_ids
            if recipient_id not in updated
        ]
        if single and rows:
            rows[0].save(force_insert=True)
        elif rows:
            storing.bulk_insert(rows)
    if rows:
        notification_created.send(sender=Notification, notifications=rows)
    if updated:
        notification_updated.send(sender=Notification, notifications=list(updated.values()))
    if rows or updated:
        tail = protocol.notification_tail(template.shared_payload())
        pairs = [(row.recipient_id, None if row.silent else row.pk) for row in rows]
        updates = [row for row in updated.values() if not row.silent]
        transaction.on_commit(lambda: send_stored(tail, pairs, updates))
    metrics.sent("notify", len(rows) + len(updated))
    new_rows = {row.recipient_id: row for row in rows}
    result = [updated.get(recipient_id) or new_rows[recipient_id] for recipient_id in stored_ids]
    if single:
        return result[0] if result else None
    return result


def broadcast(
    *,
    title: str,
    message: str = "",
    notification_type: str | None = None,
    users: Users | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Store a notification for many users and send it with one fan-out message.

    ``users=None`` means every active user. Users' preferences for the type
    apply. Return the number of users it was stored for.

    The broadcast is stored once, with a narrow pending row per recipient
    written by one ``INSERT ... SELECT`` that applies the preferences, for
    every active user, a QuerySet or a list of users alike. Each recipient's
    notification row is written when something first reads that user's
    notifications: the socket server the user is connected to, as the
    broadcast arrives, or a page, an API call or a count (see
    :func:`~django_live_notify.fanout.materialize`). While anything listens to
    ``notification_created`` (delivery backends do), every row is written at
    once instead. The live message only names the broadcast.
    """
    template = storing.build(title, message, notification_type, None, None, "", None, "", None, expires_at)
    db = router.db_for_write(Notification)
    manager = get_user_model()._default_manager.using(db)
    recipients: models.QuerySet[User]
    if users is None:
        recipients = manager.filter(is_active=True)
    elif isinstance(users, models.QuerySet):
        recipients = storing.recipients_of(users, db)
    else:
        user_ids = storing.distinct_ids(users, "users")
        if not user_ids:
            return metrics.sent("broadcast", 0)
        recipients = manager.filter(storing.in_list(user_ids, db))
    return metrics.sent("broadcast", _broadcast_in_database(template, recipients, db))


def _broadcast_in_database(template: Notification, recipients: models.QuerySet[User], db: str) -> int:
    """Store ``template`` once for ``recipients`` (see :mod:`.fanout`), or a copy for each of them in one
    ``INSERT ... SELECT`` when something listens to ``notification_created``, which needs every row's id."""
    template.broadcast_id = uuid.uuid4()
    with transaction.atomic(using=db):
        before = Notification.objects.using(db).aggregate(top=Max("id"))["top"] or 0
        if not notification_created.has_listeners(Notification):
            count = fanout.store(template, recipients, db)
        else:
            count = storing.insert_select(template, recipients, db)
            stored = list(
                Notification.objects.using(db)
                .filter(id__gt=before, broadcast_id=template.broadcast_id)
                .order_by("id")
                .values_list("recipient_id", "id")
            )
            if stored:
                notification_created.send(
                    sender=Notification,
                    recipient_ids=[recipient_id for recipient_id, _ in stored],
                    notification_ids=[notification_id for _, notification_id in stored],
                )
        if not count:
            transaction.set_rollback(True, using=db)  # Nobody wanted it: no broadcast row either.
            return 0
        tail = protocol.notification_tail(template.shared_payload())
        message = publish.broadcast_message(tail, str(template.broadcast_id), before)
        transaction.on_commit(lambda: publish.publish(message, everyone=True), using=db)
    return count


anotify = sync_to_async(notify, thread_sensitive=True)
anotify.__doc__ = "Do notify() from async code."
abroadcast = sync_to_async(broadcast, thread_sensitive=True)
abroadcast.__doc__ = "Do broadcast() from async code."


def send_stored(
    tail: str | list[str],
    pairs: Sequence[tuple[UserId, int | None]],
    updates: Iterable[Notification] = (),
) -> None:
    """Send stored rows of one notification to their recipients' sockets, with their unread counts.

    ``pairs`` are (recipient id, row id), the row id None for a silent row:
    that recipient gets only the count. ``updates`` are grouped rows, sent as
    ``update`` frames of their own.
    """
    updates = list(updates)
    counts: dict[str, int] | None
    try:
        counts = unread_counts([recipient_id for recipient_id, _ in pairs] + [row.recipient_id for row in updates])
    except Exception:
        publish.logger.exception("Could not count unread notifications; sending them without counts")
        counts = None
    if pairs:
        targets = []
        for recipient_id, notification_id in pairs:
            key = protocol.user_key(recipient_id)
            targets.append((key, notification_id, None if counts is None else counts.get(key, 0)))
        publish.publish(publish.notification_message(tail, targets))
    if updates:
        frames = []
        for row in updates:
            key = protocol.user_key(row.recipient_id)
            row_frames = [protocol.update_frame(row.to_payload())]
            if counts is not None:
                row_frames.append(protocol.unread_count_frame(counts.get(key, 0)))
            frames.append((key, row_frames))
        publish.publish(publish.frames_message(frames))
