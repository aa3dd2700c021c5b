"""The notification queryset: reads of a user's rows go through ``for_user()``, so another user's rows and
expired ones stay out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from .api_types import RequestUser

__all__ = ["NotificationQuerySet"]


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user: RequestUser) -> NotificationQuerySet:
        """Return the notifications of ``user`` only, leaving out expired ones."""
        return self.filter(recipient_id=user.pk).unexpired()

    def unexpired(self) -> NotificationQuerySet:
        """Leave out notifications past their ``expires_at``: to users, they are gone."""
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()))

    def expired(self) -> NotificationQuerySet:
        return self.filter(expires_at__lte=timezone.now())

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def read(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=False)

    def mark_all_read(self) -> int:
        """Mark the unread notifications of this queryset read; return how many changed."""
        return self.unread().update(read_at=timezone.now())
