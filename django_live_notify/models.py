"""The stored notification: the source of truth that sockets only speed up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from model_utils.models import TimeStampedModel


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user: Any) -> NotificationQuerySet:
        """Return the notifications of ``user`` only."""
        return self.filter(recipient_id=user.pk)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def read(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=False)

    def mark_all_read(self) -> int:
        """Mark the unread notifications of this queryset read; return how many changed."""
        return self.unread().update(read_at=timezone.now())


class Notification(TimeStampedModel):
    """One notification for one recipient, with its read state.

    Rows are written once and then only change ``read_at``, so ids increase in
    the order notifications happened: clients resume "after id N" and drop
    duplicates by id.
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
    )
    target_object_id = models.CharField(_("target id"), max_length=64, blank=True, default="")
    target = GenericForeignKey("target_content_type", "target_object_id")
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            # "after id X for user" and the newest-first history page.
            models.Index(fields=["recipient", "id"], name="live_notify_recipient_id"),
            # "unread for user": only unread rows are in it, so it stays small.
            models.Index(
                fields=["recipient", "id"],
                name="live_notify_unread",
                condition=models.Q(read_at__isnull=True),
            ),
            models.Index(fields=["target_content_type", "target_object_id"], name="live_notify_target"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON-ready dict that protocol v1 sends for this notification."""
        payload = {"id": self.pk}
        payload.update(self.shared_payload())
        payload["is_read"] = self.is_read
        return payload

    def shared_payload(self) -> dict[str, Any]:
        """Return the payload fields that do not depend on the recipient's row."""
        sender = None
        if self.sender_id is not None:
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
        }


def display_name(user: Any) -> str:
    """Return the name shown for ``user``: the full name, else the username."""
    get_full_name = getattr(user, "get_full_name", None)
    full_name = get_full_name() if get_full_name else ""
    return full_name or user.get_username()
