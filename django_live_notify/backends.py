"""Delivery channels beyond the live socket (web push, email, a native app's own): the contract each one follows.

A notification is always stored and sent live. A delivery backend sends stored notifications to a user over one
more channel. It never runs inside ``notify()`` or a request: the delivery worker (``django_live_notify.delivery``)
calls it after the transaction that stored the rows has committed, and records per row and channel what happened, so
that a failed send is retried and a restarted worker does not send twice.

Backends are listed in ``LIVE_NOTIFY["DELIVERY_BACKENDS"]`` by dotted path. A backend is constructed once per
process with no arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import live_settings

if TYPE_CHECKING:
    from .api_types import User
    from .models import Notification


class TemporaryFailure(Exception):
    """Raise from ``send()`` when the channel may accept the same notifications later (429, 5xx, timeouts)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        # Seconds the channel asked us to wait (a Retry-After header), or None to use the worker's backoff.
        self.retry_after = retry_after


@dataclass
class SendResult:
    """What one ``send()`` did: the ids the channel accepted, and those it refused for good."""

    accepted: list[int] = field(default_factory=list)
    # Ids the channel will never take (no subscription, an address that bounced): not retried.
    refused: list[int] = field(default_factory=list)


class DeliveryBackend:
    """Send stored notifications to one user over one channel. Subclass it and name it in DELIVERY_BACKENDS."""

    # Key of the channel in settings, preferences and the per-row delivery records: "webpush", "email", "fcm".
    name: ClassVar[str] = ""
    # What the preferences page calls the channel.
    verbose_name: ClassVar[str] = ""
    # True when several notifications of a user go out together (an email digest); False sends them one by one.
    batches: ClassVar[bool] = False
    # When a stored row goes out: "always" (right after commit), "offline" (after DELIVERY_OFFLINE_GRACE
    # seconds, unless it was seen or read meanwhile: the user had no open tab) or "unread" (after
    # delay_for() seconds, unless it was seen or read). DELIVERY_POLICIES overrides it per type.
    policy: ClassVar[str] = "always"
    # Most sends to one user in one hour (None: no bound), and least seconds between two.
    max_per_hour: int | None = None
    min_interval: float = 0

    def policy_for(self, notification_type: str) -> str:
        """Return the policy of ``notification_type`` on this channel: DELIVERY_POLICIES, else ``policy``."""
        return live_settings.delivery_policies.get(self.name, {}).get(notification_type, self.policy)

    def delay_for(self, notification_type: str) -> float:
        """Return the seconds a row of ``notification_type`` waits before it is due on this channel."""
        policy = self.policy_for(notification_type)
        if policy == "offline":
            return live_settings.delivery_offline_grace
        return 0.0

    def is_available(self, user: User) -> bool:
        """Return whether ``user`` can be reached at all (has a push subscription, an email address)."""
        return True

    def send(self, user: User, notifications: Sequence[Notification]) -> SendResult:
        """Send ``notifications`` (all of ``user``) and say which were accepted; raise TemporaryFailure to retry."""
        raise NotImplementedError


@cache
def _load_backends(paths: tuple[str, ...]) -> tuple[DeliveryBackend, ...]:
    backends = []
    for path in paths:
        backend_class = import_string(path)
        if not (isinstance(backend_class, type) and issubclass(backend_class, DeliveryBackend)):
            raise ImproperlyConfigured(f"LIVE_NOTIFY['DELIVERY_BACKENDS']: {path} is not a DeliveryBackend subclass.")
        if not backend_class.name:
            raise ImproperlyConfigured(f"LIVE_NOTIFY['DELIVERY_BACKENDS']: {path} has no name.")
        backends.append(backend_class())
    names = [backend.name for backend in backends]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured(f"LIVE_NOTIFY['DELIVERY_BACKENDS'] names a channel twice: {names}.")
    return tuple(backends)


def get_backends() -> tuple[DeliveryBackend, ...]:
    """Return one instance of each backend in ``DELIVERY_BACKENDS``, made once per process."""
    return _load_backends(live_settings.delivery_backends)
