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
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
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

    def is_available(self, user: Any) -> bool:
        """Return whether ``user`` can be reached at all (has a push subscription, an email address)."""
        return True

    def send(self, user: Any, notifications: Sequence[Notification]) -> SendResult:
        """Send ``notifications`` (all of ``user``) and say which were accepted; raise TemporaryFailure to retry."""
        raise NotImplementedError
