"""The web push backend driven by the delivery worker, against the local push service double."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_live_notify import delivery, notify
from django_live_notify.models import Delivery, NotificationDelivery, PushSubscription
from tests.push_service import PushService
from tests.test_webpush import PUBLIC_KEY, PUSH_SETTINGS, subscribe

WORKER = {
    **PUSH_SETTINGS,
    "DELIVERY_BACKENDS": ["django_live_notify.webpush.WebPushBackend"],
    "DELIVERY_MODE": "sweep",
}


@pytest.fixture
def push_service():
    with override_settings(LIVE_NOTIFY=WORKER), PushService(vapid_public_key=PUBLIC_KEY) as service:
        yield service


def test_the_worker_pushes_after_the_grace_once_and_records_it(push_service, user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    subscribe(push_service, ana)
    subscribe(push_service, bob)
    with override_settings(LIVE_NOTIFY=WORKER):
        row = notify(ana, title="Review asked")
        seen = notify(bob, title="Seen on an open tab")
        seen.seen_at = timezone.now()
        seen.save()
        delivery.sweep()
        assert push_service.received == [], "offline: not within the grace"
        for _ in range(2):
            delivery.sweep(now=timezone.now() + timedelta(seconds=61))

    [received] = push_service.received
    assert received.status == 201 and received.json()["title"] == "Review asked"
    assert Delivery.objects.get(notification=row).status == Delivery.STATUS.sent
    assert Delivery.objects.get(notification=seen).last_error == "seen"
    assert NotificationDelivery.objects.filter(notification=row, channel="webpush").exists(), "analytics"


def test_the_worker_retries_a_busy_service_and_drops_a_gone_subscription(push_service, user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    subscribe(push_service, ana, status=429, headers={"Retry-After": "120"})
    subscribe(push_service, bob, status=410)
    later = timezone.now() + timedelta(seconds=61)
    with override_settings(LIVE_NOTIFY=WORKER):
        busy = notify(ana, title="busy")
        gone = notify(bob, title="gone")
        delivery.sweep(now=later)

    record = Delivery.objects.get(notification=busy)
    assert (record.status, record.next_attempt_at) == (Delivery.STATUS.pending, later + timedelta(seconds=120))
    assert Delivery.objects.get(notification=gone).status == Delivery.STATUS.failed
    assert not PushSubscription.objects.filter(user=bob).exists()
