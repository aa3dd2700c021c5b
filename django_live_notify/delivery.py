"""The delivery worker: sends stored notifications over the channels in ``DELIVERY_BACKENDS``, off the request path.

After the transaction of ``notify()``/``broadcast()`` commits, the ids of the new rows go to the channel-layer
channel ``DELIVERY_CHANNEL``, where :class:`DeliveryConsumer` (run by ``manage.py runworker``) records a
:class:`~django_live_notify.models.Delivery` per row and channel, due when the channel's policy says. The
``live_notify_deliver`` command sweeps: it records what a lost message or a dead worker left out, and sends what is
due. Both claim rows with one UPDATE keyed by a claim token (after ``SELECT ... FOR UPDATE SKIP LOCKED`` where the
database has it), so several workers never take the same row.

The guarantee: a row is sent at most once. It is marked "sending" in its own commit just before the backend is
called; a worker that dies between that commit and the one that records the result leaves the row "sending", and
the next sweep marks it "unknown" (it may or may not have gone out) instead of sending it again. That window, one
user's ``send()`` call, is the only place a row can be lost; rows claimed but not yet sending go back to pending.

Who gets what on which channel, and when, is decided in delivery_policy.py; this module moves the rows.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.consumer import SyncConsumer
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from . import analytics, metrics, preferences
from .backends import DeliveryBackend, SendResult, TemporaryFailure, get_backends
from .conf import live_settings
from .delivery_policy import POLICIES as POLICIES
from .delivery_policy import deferred_until, plan, plan_range, plan_recent, skip_reason
from .models import Delivery, Notification
from .signals import notification_created

if TYPE_CHECKING:
    from .api_types import User

__all__ = [
    "DeliveryConsumer",
    "dispatch",
    "get_backends",
    "plan",
    "plan_range",
    "plan_recent",
    "recover_stale",
    "run_due",
    "sweep",
]

logger = logging.getLogger("django_live_notify.delivery")

STATUS = Delivery.STATUS


# --------------------------------------------------------------------------- after commit


def _on_created(sender: Any, notifications: Sequence[Notification] = (), notification_ids: Any = None, **kwargs: Any):
    ids = list(notification_ids) if notification_ids is not None else [row.pk for row in notifications]
    if ids and live_settings.delivery_backends:
        transaction.on_commit(lambda: dispatch(ids))


def connect() -> None:
    """Listen to new notifications while ``DELIVERY_BACKENDS`` names any; else stay off broadcast()'s path."""
    if live_settings.delivery_backends:
        notification_created.connect(_on_created, sender=Notification, dispatch_uid="live_notify_delivery")
    else:
        notification_created.disconnect(sender=Notification, dispatch_uid="live_notify_delivery")


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "LIVE_NOTIFY":
        connect()


setting_changed.connect(_settings_changed, dispatch_uid="live_notify_delivery_settings")


def dispatch(notification_ids: list[int]) -> None:
    """Hand the ids of newly committed rows to the worker, as ``DELIVERY_MODE`` says.

    A message that cannot be sent is logged and left to the sweep, which finds rows without a delivery record.
    """
    mode = live_settings.delivery_mode
    if mode == "inline":
        # Development and tests only: the committing thread plans and sends, ignoring delays.
        plan(notification_ids, immediate=True)
        run_due()
    elif mode == "worker":
        try:
            layer = get_channel_layer(live_settings.CHANNEL_LAYER)
            if layer is None:
                return
            message: dict[str, Any] = {"type": "delivery.planned", "ids": notification_ids}
            if len(notification_ids) > live_settings.batch_size:
                # A broadcast to many: name the range of its ids, not each one; planning others in it is harmless.
                message = {"type": "delivery.planned", "first": min(notification_ids), "last": max(notification_ids)}
            async_to_sync(layer.send)(live_settings.delivery_channel, message)
        except Exception:
            logger.warning("Could not queue %d rows for delivery; the sweep will pick them up", len(notification_ids))


class DeliveryConsumer(SyncConsumer):
    """Record and send deliveries of the rows named on ``DELIVERY_CHANNEL``; route it under "channel" in the
    project's ProtocolTypeRouter and run ``manage.py runworker live-notify-delivery``."""

    def delivery_planned(self, message: dict[str, Any]) -> None:
        """Record the deliveries of the committed rows in ``message["ids"]`` (or ids ``first`` to ``last``), then
        send what is due."""
        ids = [pk for pk in message.get("ids", ()) if type(pk) is int]
        first, last = message.get("first"), message.get("last")
        try:
            if type(first) is int and type(last) is int:
                plan_range(first, last)
            plan(ids)
            while run_due():
                pass
        except Exception:
            logger.exception("Delivery worker failed on %s; the sweep will retry", ids or (first, last))


# --------------------------------------------------------------------------- claiming and sending


def recover_stale(now: datetime | None = None) -> tuple[int, int]:
    """Put back rows claimed by a worker that stopped before sending; mark those it left "sending" unknown.

    Return (rows put back, rows marked unknown).
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=live_settings.delivery_claim_timeout)
    returned = Delivery.objects.filter(status=STATUS.claimed, claimed_at__lt=stale).update(
        status=STATUS.pending, claim=None
    )
    unknown = Delivery.objects.filter(status=STATUS.sending, claimed_at__lt=stale).update(
        status=STATUS.unknown,
        last_error="The worker stopped while sending: it may have gone out, so it is not sent again.",
    )
    if unknown:
        logger.warning("%d deliveries were left sending by a stopped worker; marked unknown, not resent", unknown)
    return returned, unknown


def _claim(channel: str, now: datetime, limit: int, whole_users: bool = False) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries of ``channel``; with ``whole_users``, all that are due of their users."""
    token = uuid.uuid4()
    db = router.db_for_write(Delivery)
    with transaction.atomic(using=db):
        due = Delivery.objects.filter(channel=channel, status=STATUS.pending, next_attempt_at__lte=now)
        if connections[db].features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        picked = list(due.order_by("next_attempt_at", "pk").values_list("pk", "recipient_id")[:limit])
        if not picked:
            return []
        ids = [pk for pk, _recipient in picked]
        if whole_users:
            # A digest holds every due row of its user, not only those that fell in this claim's first rows.
            recipients = sorted({recipient for _pk, recipient in picked})
            ids = list(due.filter(recipient_id__in=recipients).order_by().values_list("pk", flat=True))
        # The status condition makes a row taken by another worker (SQLite has no row locks) a no-op here.
        Delivery.objects.filter(pk__in=ids, status=STATUS.pending).update(
            status=STATUS.claimed, claim=token, claimed_at=now
        )
    return list(Delivery.objects.filter(claim=token, status=STATUS.claimed).select_related("notification"))


def _backoff(attempts: int) -> float:
    base = live_settings.delivery_retry_base
    return min(base * 2 ** max(attempts - 1, 0), live_settings.delivery_retry_max)


def _finish(rows: Sequence[Delivery], status: str, **fields: Any) -> None:
    """Record the outcome of ``rows``, those still under this worker's claim only."""
    if rows:
        Delivery.objects.filter(pk__in=[row.pk for row in rows], claim=rows[0].claim).update(
            status=status, claim=None, **fields
        )


def _deliver(
    backend: DeliveryBackend,
    user: User,
    rows: list[Delivery],
    now: datetime,
    wanted: dict[tuple[Any, str], bool] | None = None,
) -> None:
    if wanted is None:
        wanted = preferences.channels_enabled(
            backend.name, {(user.pk, row.notification.notification_type) for row in rows}
        )
    ready, skipped = [], defaultdict(list)
    for row in rows:
        reason = skip_reason(backend, row, now)
        if not reason and not wanted[(user.pk, row.notification.notification_type)]:
            reason = "turned off"
        if reason:
            skipped[reason].append(row)
        else:
            ready.append(row)
    for reason, group in skipped.items():
        _finish(group, STATUS.skipped, last_error=reason)
        metrics.record_channel_send(backend.name, "skipped")
    if not ready:
        return
    until = deferred_until(backend, user.pk, now)
    if until is not None:
        _finish(ready, STATUS.pending, next_attempt_at=until)
        return
    if not backend.is_available(user):
        _finish(ready, STATUS.skipped, last_error="unreachable")
        return
    groups = [ready] if backend.batches else [[row] for row in ready]
    for group in groups:
        _send(backend, user, group, now)


def _send(backend: DeliveryBackend, user: User, rows: list[Delivery], now: datetime) -> None:
    # Its own commit before the send: from here a dead worker leaves the row "unknown", never resent. Only rows
    # still under this worker's claim: a claim that outlived DELIVERY_CLAIM_TIMEOUT may be another worker's now.
    claim = rows[0].claim
    marked = Delivery.objects.filter(pk__in=[row.pk for row in rows], status=STATUS.claimed, claim=claim).update(
        status=STATUS.sending, attempts=F("attempts") + 1
    )
    if marked != len(rows):
        ours = set(
            Delivery.objects.filter(pk__in=[row.pk for row in rows], status=STATUS.sending, claim=claim).values_list(
                "pk", flat=True
            )
        )
        rows = [row for row in rows if row.pk in ours]
        if not rows:
            return
    by_notification = {row.notification_id: row for row in rows}
    try:
        result = backend.send(user, [row.notification for row in rows])
        if not isinstance(result, SendResult):
            raise TypeError(f"{type(backend).__name__}.send() returned {result!r}, not a SendResult")
    except TemporaryFailure as failure:
        _retry(rows, str(failure) or type(failure).__name__, failure.retry_after, now)
        return
    except Exception as error:
        logger.exception("Delivery backend %s failed for user %s", backend.name, user.pk)
        _retry(rows, f"{type(error).__name__}: {error}", None, now)
        return
    sent_at = now
    accepted = [by_notification[pk] for pk in result.accepted if pk in by_notification]
    refused = [by_notification[pk] for pk in result.refused if pk in by_notification]
    _finish(accepted, STATUS.sent, sent_at=sent_at, last_error="")
    _finish(refused, STATUS.failed, last_error="refused by the channel")
    answered = {row.pk for row in accepted + refused}
    _finish([row for row in rows if row.pk not in answered], STATUS.failed, last_error="not accepted by the channel")
    metrics.record_channel_send(backend.name, "sent" if accepted else "gone")
    if accepted:
        try:
            analytics.record_channel_delivery([row.notification_id for row in accepted], backend.name, timezone.now())
        except Exception:
            logger.exception("Could not record the %s deliveries in analytics", backend.name)


def _retry(rows: list[Delivery], error: str, retry_after: float | None, now: datetime) -> None:
    metrics.record_channel_send(rows[0].channel, "failed")
    final = [row for row in rows if row.attempts + 1 >= live_settings.delivery_max_attempts]
    again = [row for row in rows if row.attempts + 1 < live_settings.delivery_max_attempts]
    _finish(final, STATUS.failed, last_error=error[:2000])
    for row in again:
        wait = retry_after if retry_after is not None else _backoff(row.attempts + 1)
        _finish([row], STATUS.pending, next_attempt_at=now + timedelta(seconds=wait), last_error=error[:2000])


def run_due(now: datetime | None = None, limit: int | None = None) -> int:
    """Claim and send the deliveries due on every channel, one claim per channel; return how many were claimed."""
    now = now or timezone.now()
    limit = limit or live_settings.delivery_batch_size
    claimed = 0
    users = get_user_model()._default_manager
    for backend in get_backends():
        rows = _claim(backend.name, now, limit, whole_users=backend.batches)
        claimed += len(rows)
        by_user: dict[Any, list[Delivery]] = defaultdict(list)
        for row in rows:
            by_user[row.recipient_id].append(row)
        found = users.in_bulk(list(by_user))
        # Whether each user still wants each type here (they may have unsubscribed since): one query per claim.
        wanted = preferences.channels_enabled(
            backend.name, {(row.recipient_id, row.notification.notification_type) for row in rows}
        )
        for user_id, user_rows in by_user.items():
            user = found.get(user_id)
            if user is None:
                _finish(user_rows, STATUS.skipped, last_error="no such user")
                continue
            try:
                _deliver(backend, user, user_rows, now, wanted)
            except Exception:
                logger.exception("Could not deliver %d rows to user %s by %s", len(user_rows), user_id, backend.name)
                Delivery.objects.filter(pk__in=[row.pk for row in user_rows], status=STATUS.claimed).update(
                    status=STATUS.pending, claim=None, next_attempt_at=now + timedelta(seconds=_backoff(1))
                )
    return claimed


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Recover stale claims, record what has no delivery yet, and send everything due; return the counts."""
    returned, unknown = recover_stale(now)
    planned = plan_recent(now)
    claimed = 0
    while True:
        count = run_due(now)
        claimed += count
        if not count:
            break
    return {"returned": returned, "unknown": unknown, "planned": planned, "claimed": claimed}


def sweep_forever(interval: float, stop: Any = None) -> None:
    """Sweep every ``interval`` seconds until ``stop()`` is true."""
    while stop is None or not stop():
        try:
            sweep()
        except Exception:
            logger.exception("Delivery sweep failed; trying again in %s s", interval)
        time.sleep(interval)
