"""The notification queryset: reads of a user's rows go through ``for_user()``, so another user's rows and
expired ones stay out, and the user's rows of broadcasts not read so far are written first (see
:mod:`~django_live_notify.fanout`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models, router
from django.utils import timezone

if TYPE_CHECKING:
    from .api_types import RequestUser, UserId

__all__ = ["NotificationManager", "NotificationQuerySet"]


class NotificationQuerySet(models.QuerySet):
    # Users whose pending broadcast rows are written before this queryset first reads the database: when it is
    # evaluated, not when it is built, so building one stays free of queries (and fine in async code).
    _live_notify_readers: tuple[UserId, ...] = ()

    def for_user(self, user: RequestUser) -> NotificationQuerySet:
        """Return the notifications of ``user`` only, leaving out expired ones."""
        queryset = self.filter(recipient_id=user.pk).unexpired()
        if user.pk is not None:
            queryset._live_notify_readers = (user.pk,)
        return queryset

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

    # Every way a queryset reads or writes the database first writes its readers' pending rows.

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]  # private in django-stubs, public enough in Django
        clone._live_notify_readers = self._live_notify_readers
        return clone

    def _live_notify_read(self) -> None:
        if self._live_notify_readers:
            from .fanout import materialize

            db = router.db_for_write(self.model)
            if materialize(self._live_notify_readers, using=db) and getattr(self, "_db", None) is None:
                # Read the rows where they were just written, not on a lagging replica.
                self._db = db
            self._live_notify_readers = ()

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._live_notify_read()
        super()._fetch_all()

    def iterator(self, *args: Any, **kwargs: Any) -> Any:
        self._live_notify_read()
        return super().iterator(*args, **kwargs)

    def count(self) -> int:
        self._live_notify_read()
        return super().count()

    def exists(self) -> bool:
        self._live_notify_read()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._live_notify_read()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._live_notify_read()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._live_notify_read()
        return super().delete()


_Manager = models.Manager.from_queryset(NotificationQuerySet)


class NotificationManager(_Manager):
    """The manager of notifications. As ``user.live_notifications``, it writes the user's pending broadcast rows
    before reading, as ``for_user()`` does."""

    def get_queryset(self) -> NotificationQuerySet:
        queryset = super().get_queryset()
        assert isinstance(queryset, NotificationQuerySet)
        instance = getattr(self, "instance", None)
        pk = getattr(instance, "pk", None)
        if getattr(getattr(self, "field", None), "name", None) == "recipient" and pk is not None:
            queryset._live_notify_readers = (pk,)
        return queryset
