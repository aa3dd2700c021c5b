"""The stored notification: the source of truth that sockets only speed up.

Eight models, one schema, about 500 lines with their fields' comments: they stay together. The
notification's queryset is in querysets.py, the index classes in indexes.py; both are importable from here.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from model_utils import Choices
from model_utils.models import TimeStampedModel

from .indexes import ConditionalIndex, ConditionalUniqueConstraint
from .querysets import NotificationManager
from .querysets import NotificationQuerySet as NotificationQuerySet

if TYPE_CHECKING:
    from .api_types import User


class Notification(TimeStampedModel):
    """One notification for one recipient, with its read state.

    Rows are written once, so ids increase in the order notifications
    happened: clients resume "after id N" and drop duplicates by id. Afterwards
    only ``read_at`` changes, and, while unread, the content of a grouped row
    (``group_key``), which clients receive as an ``update`` of the same id.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="live_notifications",
        verbose_name=_("recipient"),
        # Covered by the composite indexes below, which lead with the recipient.
        db_index=False,
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sender"),
        # Most rows have no sender: the partial index below holds only those that do.
        db_index=False,
    )
    notification_type = models.CharField(_("type"), max_length=64, default="system")
    title = models.CharField(_("title"), max_length=255)
    message = models.TextField(_("message"), blank=True, default="")
    url = models.CharField(_("URL"), max_length=500, blank=True, default="")
    data = models.JSONField(_("data"), blank=True, default=dict)
    target_content_type = models.ForeignKey(
        ContentType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("target type"),
        # Covered by the "live_notify_targeted" index, which leads with it.
        db_index=False,
    )
    target_object_id = models.CharField(_("target id"), max_length=255, blank=True, default="")
    target = GenericForeignKey("target_content_type", "target_object_id")
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    group_key = models.CharField(_("group key"), max_length=255, blank=True, default="")
    group_count = models.PositiveIntegerField(_("group count"), default=1)
    actions = models.JSONField(_("actions"), blank=True, default=list)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    # The recipient's preference was "store": kept for the list and the badge, never pushed as a toast.
    silent = models.BooleanField(_("silent"), default=False)
    # The rows one broadcast() stored share it: each server process finds its users' rows by it, and
    # it tells how many recipients of one broadcast read it.
    broadcast_id = models.UUIDField(_("broadcast"), null=True, blank=True, editable=False)
    # Where an imported row came from ("hq:<id>"): a rerun of the importer skips what it already copied.
    # Unique by the "live_notify_import_key" constraint, which leaves out the rows without one (all but imports).
    import_key = models.CharField(_("import key"), max_length=255, null=True, blank=True, editable=False)
    # Retention counts from here for imported rows, so old history is not swept by the first cleanup.
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True, editable=False)
    # Inbox state (see inbox.py): shown in a feed, moved out of it, hidden until a time, an action used.
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True)
    action_taken = models.CharField(_("action taken"), max_length=64, blank=True, default="")
    action_outcome = models.CharField(_("action outcome"), max_length=100, blank=True, default="")
    # Analytics (see analytics.py): the first ack of a client, the first click on a toast, inbox item or action.
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True, editable=False)
    clicked_at = models.DateTimeField(_("clicked at"), null=True, blank=True, editable=False)
    # When action_taken was set.
    acted_at = models.DateTimeField(_("acted at"), null=True, blank=True, editable=False)

    objects = NotificationManager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            # "after id X for user" and the newest-first history page.
            models.Index(fields=["recipient", "id"], name="live_notify_recipient_id"),
            # "unread for user": only unread rows are in it, so it stays small.
            ConditionalIndex(
                fields=["recipient", "id"],
                name="live_notify_unread",
                where=models.Q(read_at__isnull=True),
                plain_fields=["recipient", "read_at", "id"],
            ),
            # "the rows about this object", and deleting a content type. Only rows that have a target are in
            # the partial indexes, those with an expiry or a sender: a broadcast writes fewer index entries.
            ConditionalIndex(
                fields=["target_content_type", "target_object_id"],
                name="live_notify_targeted",
                where=models.Q(target_content_type__isnull=False),
                plain_fields=["target_content_type", "target_object_id"],
            ),
            # "expired rows", for live_notify_cleanup.
            ConditionalIndex(
                fields=["expires_at"],
                name="live_notify_expiring",
                where=models.Q(expires_at__isnull=False),
                plain_fields=["expires_at"],
            ),
            # "this broadcast's rows" (of these users): the live send and "who read it".
            models.Index(fields=["broadcast_id", "recipient"], name="live_notify_broadcast"),
            # Deleting a user sets the sender of the rows they sent to NULL: finds those rows.
            ConditionalIndex(
                fields=["sender"],
                name="live_notify_sender",
                where=models.Q(sender__isnull=False),
                plain_fields=["sender"],
            ),
            # "the unread row of this group for these users": only unread grouped rows are in it.
            ConditionalIndex(
                fields=["recipient", "group_key"],
                name="live_notify_unread_group",
                where=models.Q(read_at__isnull=True) & ~models.Q(group_key=""),
                plain_fields=["recipient", "group_key", "read_at"],
            ),
        ]
        constraints = [
            # Partial where the database can: a row without an import key (every row notify() and broadcast()
            # store) enters no index for it.
            ConditionalUniqueConstraint(
                fields=["import_key"], name="live_notify_import_key", where=models.Q(import_key__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def action_payloads(self) -> list[dict[str, Any]]:
        """Return the actions as clients receive them: label, url, method, style and name."""
        from .actions import action_payloads

        return action_payloads(self.actions, self.pk)

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON-ready dict that protocol v1 sends for this notification."""
        payload: dict[str, Any] = {"id": self.pk}
        payload.update(self.shared_payload())
        payload["is_read"] = self.is_read
        payload["actions"] = self.action_payloads()
        payload["is_seen"] = self.seen_at is not None
        payload["is_archived"] = self.archived_at is not None
        payload["snoozed_until"] = self.snoozed_until.isoformat() if self.snoozed_until is not None else None
        payload["outcome"] = self.outcome_payload()
        return payload

    def outcome_payload(self) -> dict[str, str] | None:
        """Return the used action and its outcome text (``{"action": "accept", "label": "Accepted"}``), or None."""
        if not self.action_taken:
            return None
        return {"action": self.action_taken, "label": self.action_outcome}

    def shared_payload(self) -> dict[str, Any]:
        """Return the payload fields that do not depend on the recipient's row.

        The URL of a POST action holds the row's id; here it is an
        :class:`~django_live_notify.actions.IdUrl`, which
        :func:`~django_live_notify.protocol.notification_tail` splices each id into.
        """
        from .actions import shared_action_payloads

        sender = None
        if self.sender_id is not None and self.sender is not None:
            sender = {"id": self.sender_id, "name": display_name(self.sender)}
        target = None
        if self.target_content_type_id is not None:
            content_type = ContentType.objects.get_for_id(self.target_content_type_id)
            target = {"type": content_type.natural_key()[0] + "." + content_type.model, "id": self.target_object_id}
        return {
            "title": self.title,
            "message": self.message,
            "notification_type": self.notification_type,
            "created_at": self.created.isoformat(),
            "is_read": False,
            "url": self.url,
            "data": self.data,
            "sender": sender,
            "target": target,
            "group_key": self.group_key,
            "group_count": self.group_count,
            "updated_at": self.modified.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at is not None else None,
            "actions": shared_action_payloads(self.actions),
            "is_seen": False,
            "is_archived": False,
            "snoozed_until": None,
            "outcome": None,
        }


class Broadcast(models.Model):
    """One :func:`~django_live_notify.broadcast` stored once, with the recipients whose row does not exist yet.

    A broadcast to 100,000 users stores this row and one narrow
    :class:`PendingBroadcast` row per recipient (its preference applied), not
    100,000 notifications with their nine index entries and foreign-key
    checks. A recipient's notification row is written from here when its
    rows are first read: by the socket server for the users connected to it
    as the broadcast arrives, and by any page, API call or count for the
    others (see :mod:`django_live_notify.fanout`). The row takes this id as
    its ``broadcast_id``.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    notification_type = models.CharField(_("type"), max_length=64)
    title = models.CharField(_("title"), max_length=255)
    message = models.TextField(_("message"), blank=True, default="")
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created = models.DateTimeField(_("created"))
    # How many users it was stored for: the funnel's first figure, whether or not their rows exist yet.
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")

    def __str__(self) -> str:
        return self.title


class PendingBroadcast(models.Model):
    """A recipient of a :class:`Broadcast` whose notification row is not written yet.

    The row is deleted as the notification is written, in one transaction,
    so each recipient gets exactly one. Neither key is a database constraint:
    checking 100,000 of them would cost what storing the broadcast once
    saves. Deleting a user or a broadcast through Django deletes its rows
    here; a row whose user or broadcast is gone otherwise is dropped when it
    is next read, without writing anything.
    """

    pk = models.CompositePrimaryKey("user_id", "broadcast_id")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
        db_constraint=False,
        # The primary key leads with the user.
        db_index=False,
    )
    broadcast = models.ForeignKey(
        Broadcast,
        on_delete=models.CASCADE,
        related_name="pending",
        verbose_name=_("broadcast"),
        db_constraint=False,
        # Reads are per user; per broadcast only the cleanup and the funnel's deletes, which may scan.
        db_index=False,
    )
    # The recipient's preference was "store": the row is written silent.
    silent = models.BooleanField(_("silent"), default=False)

    class Meta:
        verbose_name = _("pending broadcast")
        verbose_name_plural = _("pending broadcasts")

    def __str__(self) -> str:
        return f"{self.broadcast_id} for {self.user_id}"


class NotificationDelivery(models.Model):
    """When a channel other than the live socket (web push, email) took one notification.

    A row per (notification, channel), not a column per channel: backends are pluggable, so the set of
    channels is open. Deleting the notification deletes its rows, so retention needs nothing more.
    """

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("notification"),
        # Covered by the unique constraint, which leads with the notification.
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=32)
    delivered_at = models.DateTimeField(_("delivered at"))

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="live_notify_unique_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel}"


class NotificationPreference(models.Model):
    """How one user wants one notification type delivered.

    Only choices a user made are stored; every other type follows
    ``LIVE_NOTIFY["PREFERENCE_DEFAULTS"]``, so a changed default reaches
    everyone who never chose.
    """

    DELIVERY = Choices(
        ("live", _("Live and stored")),
        ("store", _("Stored only, no toast")),
        ("off", _("Off")),
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="live_notify_preferences",
        verbose_name=_("user"),
        # Covered by the unique constraint, which leads with the user.
        db_index=False,
    )
    notification_type = models.CharField(_("type"), max_length=64)
    delivery = models.CharField(_("delivery"), max_length=8, choices=DELIVERY)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["user", "notification_type"], name="live_notify_unique_preference"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type}: {self.delivery}"


class ChannelPreference(models.Model):
    """Whether one user wants one notification type over one delivery channel (email, webpush).

    Only choices a user made are stored; every other pair follows
    ``LIVE_NOTIFY["CHANNEL_DEFAULTS"]``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="live_notify_channel_preferences",
        verbose_name=_("user"),
        db_index=False,
    )
    notification_type = models.CharField(_("type"), max_length=64)
    channel = models.CharField(_("channel"), max_length=32)
    enabled = models.BooleanField(_("enabled"))

    class Meta:
        verbose_name = _("channel preference")
        verbose_name_plural = _("channel preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notification_type", "channel"], name="live_notify_unique_channel_preference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type} by {self.channel}: {'on' if self.enabled else 'off'}"


class Delivery(models.Model):
    """What happened to one notification on one delivery channel: the worker's record, so nothing is sent twice.

    A row goes pending -> claimed -> sending -> sent, or back to pending (a temporary failure, retried with
    backoff), or ends failed (refused, or out of attempts), skipped (read or seen in time, turned off,
    unreachable) or unknown (a worker stopped between marking it sending and recording the result: it may or may
    not have gone out, and is never sent again).
    """

    STATUS = Choices(
        ("pending", _("Pending")),
        ("claimed", _("Claimed by a worker")),
        ("sending", _("Sending")),
        ("sent", pgettext_lazy("delivery status", "Sent")),
        ("failed", _("Failed")),
        ("skipped", _("Skipped")),
        ("unknown", _("Unknown: the worker stopped while sending")),
    )

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        # "deliveries" is analytics' NotificationDelivery (when a channel took the row); these are the worker's.
        related_name="channel_deliveries",
        verbose_name=_("notification"),
        # Covered by the unique constraint, which leads with the notification.
        db_index=False,
    )
    # The notification's recipient, copied so that per-user bounds need no join.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("recipient"),
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=32)
    status = models.CharField(_("status"), max_length=8, choices=STATUS, default=STATUS.pending)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    claim = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="live_notify_unique_send"),
        ]
        indexes = [
            # "what is due on this channel", the worker's claim.
            models.Index(fields=["channel", "status", "next_attempt_at"], name="live_notify_delivery_due"),
            # "what did this user get on this channel lately", the per-user bounds.
            models.Index(fields=["recipient", "channel", "sent_at"], name="live_notify_delivery_user"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} by {self.channel}: {self.status}"


def display_name(user: User) -> str:
    """Return the name shown for ``user``: the full name, else the username."""
    get_full_name = getattr(user, "get_full_name", None)
    full_name = get_full_name() if get_full_name else ""
    return full_name or user.get_username()


class PushSubscription(models.Model):
    """One browser (device) of a user that accepts Web Push: where to send, and the keys to encrypt for it.

    The endpoint belongs to the browser, not the user: when another user subscribes the same browser, the row
    moves to that user. ``endpoint_sha256`` makes it unique on every database (MySQL cannot index a long text).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="live_notify_push_subscriptions",
        verbose_name=_("user"),
    )
    endpoint = models.TextField(_("endpoint"))
    endpoint_sha256 = models.CharField(_("endpoint hash"), max_length=64, unique=True, editable=False)
    p256dh = models.CharField(_("p256dh key"), max_length=100)
    auth = models.CharField(_("auth secret"), max_length=32)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True)
    failure_count = models.PositiveIntegerField(_("failures in a row"), default=0)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.user} @ {urlsplit(self.endpoint).hostname or '?'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.endpoint_sha256 = endpoint_hash(self.endpoint)
        super().save(*args, **kwargs)


def endpoint_hash(endpoint: str) -> str:
    """Return the hex SHA-256 of a push endpoint, the key PushSubscription is unique on."""
    return hashlib.sha256(endpoint.encode()).hexdigest()
