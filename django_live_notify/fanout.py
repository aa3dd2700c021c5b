"""Broadcasts stored once, each recipient's row written when it is first read ("fan-out on read").

:func:`store` writes a :class:`~django_live_notify.models.Broadcast` and a
narrow :class:`~django_live_notify.models.PendingBroadcast` row per recipient
(user id, broadcast id, silent), the preferences applied in the same
``INSERT ... SELECT``. That is what a broadcast costs: a fraction of writing
every recipient's notification row with its index entries and its
foreign-key check.

:func:`materialize` turns the pending rows of some users into their
notification rows. Everything that reads a user's rows calls it first:
``Notification.objects.for_user()`` and ``user.live_notifications`` (when
evaluated), the unread counts, a socket's ``resume``, the recovery sweep, and
the socket servers as the broadcast reaches their users
(:func:`~django_live_notify.replay.broadcast_targets`). So to every reader the
broadcast looks stored per recipient, as before; users who never come back
never cost a row. A user with nothing pending costs one read by primary key.

Exactly once: the pending rows are locked (``SELECT ... FOR UPDATE``; on
SQLite, which locks the whole database for a write, by a first write of no
row) and deleted in the transaction that writes the notifications, so a
second reader waits, then finds them gone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import datetime

from django.db import OperationalError, connections, models, router, transaction
from django.db.models import F, Q, Value
from django.utils import timezone

from . import storing
from .api_types import User, UserId
from .batching import batches
from .models import Broadcast, Notification, PendingBroadcast

__all__ = ["drop_ended", "materialize", "store"]


def store(template: Notification, recipients: models.QuerySet[User], db: str) -> int:
    """Store ``template`` (with its ``broadcast_id`` set) once, pending for each of ``recipients`` that wants its
    type; return how many that is. Nobody: nothing is written."""
    assert template.broadcast_id is not None
    recipients, silent = storing.wanting(template.notification_type, recipients)
    values = {
        "user_id": "pk",
        "broadcast_id": Value(template.broadcast_id, output_field=models.UUIDField()),
        "silent": silent,
    }
    # The pending rows first (no constraint points at the broadcast), so the broadcast is written with its count.
    count = storing.insert_from(PendingBroadcast, values, recipients, db)
    if count:
        Broadcast(
            id=template.broadcast_id,
            notification_type=template.notification_type,
            title=template.title,
            message=template.message,
            expires_at=template.expires_at,
            created=template.created,
            recipients=count,
        ).save(using=db, force_insert=True)
    return count


def materialize(
    user_ids: Iterable[UserId], using: str | None = None, batch_size: int | None = None, check: bool = True
) -> int:
    """Write the notification rows that broadcasts left pending for ``user_ids``; return how many were written.

    One read per ``batch_size`` users (``BATCH_SIZE`` by default) when nothing is pending, the common case; else
    one transaction for all, with a few statements per batch. ``check=False`` skips that read, for a caller that
    knows rows are pending (a socket server as a broadcast arrives).
    """
    db = using or router.db_for_write(Notification)
    found = []
    for batch in batches(dict.fromkeys(user_ids), batch_size):
        pending = PendingBroadcast.objects.using(db).filter(storing.in_list(batch, db, "user_id"))
        if not check or pending.exists():
            found.append(pending)
    return _write_retrying(found, db) if found else 0


# Deadlocks: InnoDB's gap locks make a reader's SELECT ... FOR UPDATE and a broadcast's INSERT of pending rows wait
# for each other; the database aborts one of them, and the reader simply tries again.
ATTEMPTS = 5


def _write_retrying(found: list[models.QuerySet[PendingBroadcast]], db: str) -> int:
    # Inside a caller's transaction a deadlock has rolled back the caller's work too: only the caller can retry.
    attempts = 1 if connections[db].in_atomic_block else ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using=db):
                return sum(_write(pending, db) for pending in found)
        except OperationalError as error:
            if attempt == attempts or not _is_deadlock(error):
                raise
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _is_deadlock(error: OperationalError) -> bool:
    cause = error.__cause__
    # MySQL and MariaDB: ER_LOCK_DEADLOCK. PostgreSQL: deadlock_detected (psycopg 3, then psycopg2).
    code = error.args[0] if error.args else None
    return code == 1213 or "40P01" in (getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None))


def _write(pending: models.QuerySet[PendingBroadcast], db: str) -> int:
    connection = connections[db]
    if connection.vendor == "sqlite":
        # No row locks: a first write, of no row, takes the database's write lock, which the other writers wait
        # for (a transaction begun IMMEDIATE holds it already). Nothing can be added to ``pending`` meanwhile.
        table = connection.ops.quote_name(PendingBroadcast._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET silent = 0 WHERE 0")
    else:
        # Locked, not read: reading each row's broadcast id would cost more than the broadcasts' few ids below.
        if not list(pending.select_for_update().values_list("user_id", flat=True)):
            return 0
        # Only what is locked: a broadcast committed since adds rows that the INSERT and the DELETE would see.
        # A broadcast's rows are committed together, so its rows here are all locked or all new.
        claimed = set(pending.order_by().values_list("broadcast_id", flat=True).distinct())
        pending = pending.filter(broadcast_id__in=claimed)
    # Every broadcast's copy in one statement, joined to its row; an expired or deleted broadcast gives none.
    values = storing.row_values(Notification(), "user_id", "silent")
    for name in ("notification_type", "title", "message", "expires_at", "created"):
        values[name] = F(f"broadcast__{name}")
    values["modified"] = F("broadcast__created")
    values["broadcast_id"] = F("broadcast_id")
    unexpired = Q(broadcast__expires_at__isnull=True) | Q(broadcast__expires_at__gt=timezone.now())
    written = storing.insert_from(Notification, values, pending.filter(unexpired), db)
    pending.delete()
    return written


def drop_ended(now: datetime, cutoff: datetime | None) -> tuple[int, int]:
    """Delete the broadcasts that expired, with their pending rows, and those created before ``cutoff`` that
    nobody is pending for (their rows keep a copy of everything); return (broadcasts, pending rows) deleted."""
    ended = Q(expires_at__lte=now)
    if cutoff is not None:
        ended |= Q(created__lt=cutoff) & ~Q(pk__in=PendingBroadcast.objects.values("broadcast_id"))
    ids = list(Broadcast.objects.filter(ended).values_list("pk", flat=True))
    pending = 0
    for batch in batches(ids):
        pending += PendingBroadcast.objects.filter(broadcast_id__in=batch).delete()[0]
        Broadcast.objects.filter(pk__in=batch).delete()
    return len(ids), pending
