"""What a socket missed: the frames answering ``resume``, the recovery sweep's gaps, a broadcast's rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import fanout, protocol
from .batching import batches
from .conf import live_settings
from .models import Notification
from .reading import counted_unread
from .storing import in_list


def resume_frames_many(requests: list[tuple[Any, int]]) -> list[tuple[list[str], list[int]]]:
    """Answer many ``resume`` requests, ``[(user pk, last id), ...]``: for each, the frames (missed
    notifications, ``resumed``, ``unread_count``) and the ids of the notifications among them (a client's
    claim is not a delivery). Silent rows (stored only, by the user's preference) are not replayed.

    Two queries for the whole batch find the users with something to replay
    and everyone's unread count; only those users (after a reconnect, usually
    none) cost a query each.
    """
    limit = live_settings.replay_limit
    recipient_ids = list(dict.fromkeys(recipient_id for recipient_id, _ in requests))
    # The users' broadcasts not read so far are written first, and everything is read where they were written.
    db = router.db_for_write(Notification)
    fanout.materialize(recipient_ids, using=db)
    newest: dict[Any, int] = {}
    for batch in batches(recipient_ids):
        newest.update(newest_ids(batch, using=db))
    counts = counted_unread(recipient_ids)
    answers = []
    for recipient_id, last_id in requests:
        missed: list[Notification] = []
        if newest.get(recipient_id, 0) > last_id:
            missed = list(
                Notification.objects.using(db)
                .unexpired()
                .filter(recipient_id=recipient_id, pk__gt=last_id, silent=False)
                .select_related("sender")
                .order_by("-id")[: limit + 1]
            )
        complete = len(missed) <= limit
        missed = missed[:limit]
        missed.reverse()
        frames = [protocol.notification_frame(notification.to_payload()) for notification in missed]
        frames.append(protocol.resumed_frame(len(missed), complete))
        frames.append(protocol.unread_count_frame(counts.get(protocol.user_key(recipient_id), 0)))
        answers.append((frames, [notification.pk for notification in missed]))
    return answers


def newest_ids(recipient_ids: list[Any], using: str | None = None) -> QuerySet[Any, tuple[Any, int]]:
    """Return ``(user pk, id of their newest row or 0)`` for each of ``recipient_ids``.

    One backward step into the ``(recipient, id)`` index per user, read from
    the index alone: its cost does not grow with a user's history, where the
    highest id over the user's unexpired, not silent rows would read them
    all. The newest row may be silent or expired; the resume query that
    follows, which filters them out, then simply finds nothing to replay.
    """
    newest_row = Notification.objects.filter(recipient_id=OuterRef("pk")).order_by("-id").values("id")[:1]
    return (
        get_user_model()
        ._default_manager.db_manager(using)
        .filter(pk__in=recipient_ids)
        .order_by()
        .annotate(top=Coalesce(Subquery(newest_row), 0))
        .values_list("pk", "top")
    )


def missed_frames(
    watermark: int | None, local: dict[str, tuple[int, set[int]]], grace: float
) -> tuple[int, dict[str, list[str]], dict[str, list[int]]]:
    """Find notifications stored since ``watermark`` that sockets were never sent.

    ``local`` maps each local user's key to the watermark when its first socket
    opened (older rows are that socket's resume's business) and the ids above
    ``watermark`` its sockets were sent. Comparing ids one by one, not with the
    highest id sent, finds a row whose live send was lost even when a later
    one arrived. Rows younger than ``grace`` seconds are left for the next
    sweep: their live send may still be on its way. Rows already read are
    never sent: the user has seen them, on this page or another one. Return
    the new watermark, the frames to send per user (the missed notifications,
    then the unread count), and the ids in those frames per user. The local
    users' broadcasts not read so far are written first: a broadcast whose live
    message was lost reaches them here.
    """
    db = router.db_for_write(Notification)
    settled = (
        Notification.objects.using(db)
        .unexpired()
        .filter(created__lte=timezone.now() - timedelta(seconds=grace), silent=False)
    )
    if watermark is None:
        return settled.aggregate(top=Max("id"))["top"] or 0, {}, {}
    recipient_ids = list(local)
    if not recipient_ids:
        return watermark, {}, {}
    fanout.materialize(user_pks(recipient_ids), using=db)
    stored = list(
        settled.filter(id__gt=watermark, recipient_id__in=recipient_ids)
        .order_by("id")
        .values_list("recipient_id", "id", "read_at")
    )
    new_watermark = max([watermark, *(notification_id for _, notification_id, _ in stored)])
    limit = live_settings.replay_limit
    missed: dict[Any, list[int]] = {}
    for recipient_id, notification_id, read_at in stored:
        since, sent = local[protocol.user_key(recipient_id)]
        if notification_id > since and notification_id not in sent and read_at is None:
            missed.setdefault(recipient_id, []).append(notification_id)
    if not missed:
        return new_watermark, {}, {}
    wanted = [notification_id for ids in missed.values() for notification_id in ids[-limit:]]
    rows = [
        row
        for batch in batches(wanted)
        for row in settled.filter(id__in=batch, read_at__isnull=True).select_related("sender").order_by("id")
    ]
    counts = counted_unread(missed)
    frames_by_user: dict[str, list[str]] = {}
    ids_by_user: dict[str, list[int]] = {}
    for row in rows:
        key = protocol.user_key(row.recipient_id)
        frames_by_user.setdefault(key, []).append(protocol.notification_frame(row.to_payload()))
        ids_by_user.setdefault(key, []).append(row.pk)
    for key, frames in frames_by_user.items():
        frames.append(protocol.unread_count_frame(counts.get(key, 0)))
    return new_watermark, frames_by_user, ids_by_user


# A socket server writes the rows of its connected users' pending broadcasts in statements of this many users: the
# fewer statements, the less a broadcast costs it, and 10,000 ids are still one parameter (or a short IN list).
WRITE_BATCH_SIZE = 10_000


def writes_in_process() -> bool:
    """Return whether the notifications' database works in this process (SQLite) rather than in a server."""
    return connections[router.db_for_write(Notification)].vendor == "sqlite"


def user_pks(user_keys: list[str]) -> list[Any]:
    """Return the user model's primary keys of registry keys (``protocol.user_key()`` in reverse)."""
    to_python = get_user_model()._meta.pk.to_python
    return [to_python(key) for key in user_keys]


def write_pending(user_keys: list[str]) -> int:
    """Write the rows of the broadcasts pending for ``user_keys``, the users connected here (see :mod:`.fanout`);
    return how many."""
    return _write_pending(user_pks(user_keys))


def _write_pending(user_ids: list[Any]) -> int:
    return fanout.materialize(user_ids, batch_size=WRITE_BATCH_SIZE, check=False)


def broadcast_targets(
    broadcast_id: str, after_id: int, user_keys: list[str], written: bool = False
) -> list[list[Any]]:
    """Return ``[user key, row id or None when silent, unread count]`` for each of ``user_keys`` the broadcast reached.

    The users' pending broadcasts (this one, and any other not read yet, so the counts are right) are written
    first, unless ``written`` says :func:`write_pending` did: the users connected here read them now. Then one
    query per ``BATCH_SIZE`` users for the rows, the same for the counts.
    """
    user_ids = user_pks(user_keys)
    if not written:
        _write_pending(user_ids)
    rows: list[tuple[Any, int, bool]] = []
    db = router.db_for_write(Notification)  # Where the rows were written just before: no replica lag.
    for batch in batches(user_ids):
        rows.extend(
            Notification.objects.using(db)
            .filter(in_list(batch, db, "recipient_id"), id__gt=after_id, broadcast_id=broadcast_id)
            .order_by()
            .values_list("recipient_id", "id", "silent")
        )
    counts = counted_unread(recipient_id for recipient_id, _, _ in rows)
    targets = []
    for recipient_id, notification_id, silent in rows:
        key = protocol.user_key(recipient_id)
        targets.append([key, None if silent else notification_id, counts.get(key, 0)])
    return targets
