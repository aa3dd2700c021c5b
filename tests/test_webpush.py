"""Web Push backend: what reaches a push service (checked and decrypted by a local double), and what its answers do."""

import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.core import signing
from django.test import override_settings
from py_vapid import Vapid02, b64urlencode

from django_live_notify import notify
from django_live_notify.actions import register, unregister
from django_live_notify.backends import TemporaryFailure
from django_live_notify.models import PushSubscription
from django_live_notify.webpush import MAX_PAYLOAD_BYTES, WebPushBackend, payload, topic, unsign_read_token
from tests.push_service import PushService


def vapid_keys():
    vapid = Vapid02()
    vapid.generate_keys()
    private = b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    public = b64urlencode(
        vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return private, public


PRIVATE_KEY, PUBLIC_KEY = vapid_keys()
PUSH_SETTINGS = {
    "WEBPUSH_VAPID_PRIVATE_KEY": PRIVATE_KEY,
    "WEBPUSH_VAPID_PUBLIC_KEY": PUBLIC_KEY,
    "WEBPUSH_VAPID_SUBJECT": "mailto:admin@example.com",
}


@pytest.fixture
def push_service():
    with override_settings(LIVE_NOTIFY=PUSH_SETTINGS), PushService(vapid_public_key=PUBLIC_KEY) as service:
        yield service


def subscribe(service, user, **device_options):
    device = service.device(**device_options)
    PushSubscription.objects.create(user=user, **service.subscription(device))
    return device


def test_the_push_service_decrypts_exactly_the_payload_that_was_sent(push_service, user_factory):
    ana = user_factory("ana")
    subscribe(push_service, ana)
    notification = notify(ana, title="Review asked", message="Please look at #12", url="/requests/12/")

    result = WebPushBackend().send(ana, [notification])

    assert result.accepted == [notification.pk] and result.refused == []
    [received] = push_service.received
    assert received.status == 201, received.error
    sent = received.json()
    expected = payload(notification)
    # The read token carries the second it was signed; everything else is the same.
    assert sent.pop("read_token")[:10] == expected.pop("read_token")[:10]
    assert sent == expected
    assert (sent["id"], sent["title"], sent["body"], sent["url"]) == (
        notification.pk,
        "Review asked",
        "Please look at #12",
        "/requests/12/",
    )
    assert unsign_read_token(received.json()["read_token"]) == (notification.pk, str(ana.pk))


def test_the_vapid_jwt_names_the_push_service_and_expires_within_a_day(push_service, user_factory):
    ana = user_factory("ana")
    subscribe(push_service, ana)
    WebPushBackend().send(ana, [notify(ana, title="Hi")])

    [received] = push_service.received
    assert received.claims["aud"] == push_service.origin
    assert time.time() < received.claims["exp"] <= time.time() + 24 * 3600
    assert received.claims["sub"] == "mailto:admin@example.com"
    assert received.vapid_key == PUBLIC_KEY


def test_a_push_signed_with_another_key_is_refused_by_the_push_service(user_factory):
    _, other_public = vapid_keys()
    ana = user_factory("ana")
    with override_settings(LIVE_NOTIFY=PUSH_SETTINGS), PushService(vapid_public_key=other_public) as service:
        subscribe(service, ana)
        notification = notify(ana, title="Hi")
        result = WebPushBackend().send(ana, [notification])
    assert result.refused == [notification.pk]
    assert service.received[0].status == 401
    assert PushSubscription.objects.get(user=ana).failure_count == 1


def test_topic_ttl_and_urgency_headers_follow_the_settings_and_the_type(user_factory):
    ana = user_factory("ana")
    options = {
        **PUSH_SETTINGS,
        "WEBPUSH_TTL": 3600,
        "WEBPUSH_TYPE_OPTIONS": {"security": {"ttl": 60, "urgency": "high"}},
    }
    with override_settings(LIVE_NOTIFY=options), PushService() as service:
        subscribe(service, ana)
        grouped = notify(ana, title="3 comments", group_key="ticket:12:comments")
        urgent = notify(ana, title="New sign-in", notification_type="security")
        WebPushBackend().send(ana, [grouped, urgent])
    first, second = service.received
    assert first.headers["ttl"] == "3600" and first.headers["urgency"] == "normal"
    assert first.headers["topic"] == topic("ticket:12:comments")
    assert second.headers["ttl"] == "60" and second.headers["urgency"] == "high"
    assert "topic" not in second.headers
    assert first.json()["tag"] == "ticket:12:comments"


def test_the_topic_is_32_url_safe_characters_and_the_same_for_the_same_key():
    keys = ["a", "ticket:12:comments", "é" * 300]
    topics = [topic(key) for key in keys]
    for value in topics:
        assert len(value) == 32
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(set(topics)) == 3
    assert topic("ticket:12:comments") == topics[1]


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_calls_gone_is_deleted(push_service, user_factory, status):
    ana = user_factory("ana")
    gone = subscribe(push_service, ana, status=status)
    kept = subscribe(push_service, ana)
    notification = notify(ana, title="Hi")

    result = WebPushBackend().send(ana, [notification])

    assert result.accepted == [notification.pk]
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [push_service.endpoint(kept)]
    assert push_service.endpoint(gone) not in [sub.endpoint for sub in PushSubscription.objects.all()]


def test_a_user_whose_only_subscription_is_gone_is_refused_and_has_none_left(push_service, user_factory):
    ana = user_factory("ana")
    subscribe(push_service, ana, status=410)
    first, second = notify(ana, title="One"), notify(ana, title="Two")

    result = WebPushBackend().send(ana, [first, second])

    assert result.accepted == [] and result.refused == [first.pk, second.pk]
    assert not PushSubscription.objects.exists()
    assert len(push_service.received) == 1
    assert not WebPushBackend().is_available(ana)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, "120", 120.0), (503, "7", 7.0), (500, None, None), (502, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_a_busy_push_service_raises_temporary_failure_with_its_retry_after(
    push_service, user_factory, status, retry_after, expected
):
    ana = user_factory("ana")
    headers = {"Retry-After": retry_after} if retry_after else {}
    subscribe(push_service, ana, status=status, headers=headers)
    notification = notify(ana, title="Hi")

    with pytest.raises(TemporaryFailure) as raised:
        WebPushBackend().send(ana, [notification])

    assert raised.value.retry_after == expected
    assert str(status) in str(raised.value)
    subscription = PushSubscription.objects.get()
    assert subscription.failure_count == 1 and subscription.last_success_at is None


def test_an_unreachable_push_service_is_a_temporary_failure(user_factory):
    ana = user_factory("ana")
    with override_settings(LIVE_NOTIFY={**PUSH_SETTINGS, "WEBPUSH_TIMEOUT": 2}):
        with PushService() as service:
            subscribe(service, ana)
        # The service has stopped: its port refuses connections.
        with pytest.raises(TemporaryFailure, match="no answer"):
            WebPushBackend().send(ana, [notify(ana, title="Hi")])
    assert PushSubscription.objects.get().failure_count == 1


def test_one_device_taking_it_is_enough_and_each_device_keeps_its_own_record(push_service, user_factory):
    ana = user_factory("ana")
    phone = subscribe(push_service, ana)
    laptop = subscribe(push_service, ana, status=429)
    tablet = subscribe(push_service, ana)
    PushSubscription.objects.filter(endpoint=push_service.endpoint(phone)).update(failure_count=3)
    notification = notify(ana, title="Hi")

    result = WebPushBackend().send(ana, [notification])

    assert result.accepted == [notification.pk]
    assert sorted(received.path for received in push_service.received) == sorted(
        f"/push/{device.token}" for device in (phone, laptop, tablet)
    )
    records = {sub.endpoint: sub for sub in PushSubscription.objects.all()}
    for device in (phone, tablet):
        assert records[push_service.endpoint(device)].failure_count == 0
        assert records[push_service.endpoint(device)].last_success_at is not None
    assert records[push_service.endpoint(laptop)].failure_count == 1
    assert records[push_service.endpoint(laptop)].last_success_at is None
    # Each device decrypts the same payload with its own keys.
    assert len({json.dumps(received.json(), sort_keys=True) for received in push_service.received}) == 1


def test_pushes_go_only_to_the_users_own_devices(push_service, user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    subscribe(push_service, ana)
    bobs = subscribe(push_service, bob)
    WebPushBackend().send(bob, [notify(bob, title="For Bob")])
    assert [received.path for received in push_service.received] == [f"/push/{bobs.token}"]


def test_a_later_temporary_failure_returns_what_went_out_and_leaves_the_rest_for_a_retry(push_service, user_factory):
    ana = user_factory("ana")
    device = subscribe(push_service, ana)
    first, second, third = (notify(ana, title=title) for title in ("One", "Two", "Three"))
    backend = WebPushBackend()
    original = push_service.check

    def busy_after_first(path, headers, body):
        received = original(path, headers, body)
        if len(push_service.received) >= 1:
            received.status = 429
        return received

    push_service.check = busy_after_first
    result = backend.send(ana, [first, second, third])
    assert result.accepted == [first.pk] and result.refused == []
    assert len(push_service.received) == 2
    assert device.token in push_service.received[1].path


def test_a_user_without_subscriptions_is_unavailable_and_refused(push_service, user_factory):
    ana = user_factory("ana")
    notification = notify(ana, title="Hi")
    backend = WebPushBackend()
    assert not backend.is_available(ana)
    assert backend.send(ana, [notification]).refused == [notification.pk]
    assert push_service.received == []


def test_a_long_body_is_shortened_so_the_push_fits_4_kb(push_service, user_factory):
    ana = user_factory("ana")
    subscribe(push_service, ana)
    notification = notify(ana, title="Long", message="ü" * 5000, url="/x/")

    assert WebPushBackend().send(ana, [notification]).accepted == [notification.pk]

    [received] = push_service.received
    assert received.status == 201, received.error
    sent = received.json()
    assert len(received.payload) <= MAX_PAYLOAD_BYTES
    assert sent["body"].endswith("…") and sent["body"].startswith("üüü")
    assert len(sent["body"]) > 1000
    assert sent["title"] == "Long" and sent["url"] == "/x/"


def test_link_actions_become_buttons_and_post_actions_are_left_to_the_page(push_service, user_factory):
    ana = user_factory("ana")
    subscribe(push_service, ana)
    register("push_accept", lambda request, notification: None)
    try:
        notification = notify(
            ana,
            title="Invite",
            actions=[
                {"label": "Open", "url": "/invites/3/"},
                {"label": "Accept", "method": "POST", "name": "push_accept"},
            ],
        )
    finally:
        unregister("push_accept")
    WebPushBackend().send(ana, [notification])
    assert push_service.received[0].json()["actions"] == [{"action": "a0", "title": "Open", "url": "/invites/3/"}]


def test_a_read_token_is_refused_once_expired_or_altered(push_service, user_factory):
    ana = user_factory("ana")
    token = payload(notify(ana, title="Hi"))["read_token"]
    with pytest.raises(signing.BadSignature):
        unsign_read_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    expired = {**PUSH_SETTINGS, "WEBPUSH_READ_TOKEN_MAX_AGE": -1}
    with override_settings(LIVE_NOTIFY=expired), pytest.raises(signing.SignatureExpired):
        unsign_read_token(token)


def test_the_ttl_stops_at_the_notifications_expiry_and_an_expired_one_is_not_pushed(push_service, user_factory):
    from datetime import timedelta

    from django.utils import timezone

    ana = user_factory("ana")
    subscribe(push_service, ana)
    soon = notify(ana, title="Sale ends", expires_at=timezone.now() + timedelta(minutes=10))
    gone = notify(ana, title="Old", expires_at=timezone.now() + timedelta(minutes=10))
    type(gone).objects.filter(pk=gone.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    gone.refresh_from_db()

    result = WebPushBackend().send(ana, [soon, gone])

    assert result.accepted == [soon.pk] and result.refused == [gone.pk]
    [received] = push_service.received
    assert 590 <= int(received.headers["ttl"]) <= 600
