"""Web Push over HTTP: subscribe, unsubscribe, the service worker's URL, read tokens, check E009, the key command."""

import base64
import json
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command
from django.template import RequestContext, Template
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from django_live_notify import notify
from django_live_notify.checks import check_webpush_keys
from django_live_notify.models import Notification, PushSubscription
from django_live_notify.webpush import payload, vapid_public_key
from tests.test_webpush import PUBLIC_KEY, PUSH_SETTINGS, vapid_keys

WEBPUSH = "django_live_notify.webpush.WebPushBackend"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def browser_subscription(endpoint="https://push.example.net/wpush/v2/abc123"):
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(secrets.token_bytes(16))},
    }


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post_json(client, name, body, **headers):
    return client.post(reverse(name), json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def ana(user_factory):
    return user_factory("ana")


# --------------------------------------------------------------------------- subscribe / unsubscribe


def test_subscribe_stores_the_browsers_subscription_with_its_user_agent(ana):
    body = browser_subscription()
    response = post_json(logged_in(ana), "live_notify:push_subscribe", body, user_agent="Firefox/140")
    assert response.status_code == 201 and response.json() == {"subscribed": True, "created": True}
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.endpoint, stored.p256dh, stored.auth, stored.user_agent) == (
        ana,
        body["endpoint"],
        body["keys"]["p256dh"],
        body["keys"]["auth"],
        "Firefox/140",
    )


def test_subscribing_the_same_browser_again_updates_it_and_another_user_takes_it_over(ana, user_factory):
    body = browser_subscription()
    post_json(logged_in(ana), "live_notify:push_subscribe", body)
    PushSubscription.objects.update(failure_count=4)
    body["keys"]["auth"] = b64url(secrets.token_bytes(16))
    bob = user_factory("bob")
    response = post_json(logged_in(bob), "live_notify:push_subscribe", body)
    assert response.status_code == 200 and response.json()["created"] is False
    stored = PushSubscription.objects.get()
    assert stored.user == bob and stored.auth == body["keys"]["auth"] and stored.failure_count == 0


def test_subscribe_needs_the_csrf_token_and_a_signed_in_user(ana):
    client = logged_in(ana, enforce_csrf_checks=True)
    client.get(reverse("live_notify:list"))
    assert post_json(client, "live_notify:push_subscribe", browser_subscription()).status_code == 403
    token = client.cookies["csrftoken"].value
    response = post_json(client, "live_notify:push_subscribe", browser_subscription(), x_csrftoken=token)
    assert response.status_code == 201
    anonymous = post_json(Client(), "live_notify:push_subscribe", browser_subscription())
    assert anonymous.status_code == 403 and anonymous.json() == {"error": "Authentication required."}
    assert logged_in(ana).get(reverse("live_notify:push_subscribe")).status_code == 405
    assert PushSubscription.objects.count() == 1


def _with(changes):
    body = browser_subscription()
    for path, value in changes.items():
        target = body
        *parents, last = path.split(".")
        for parent in parents:
            target = target[parent]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "Send a JSON object"),
        ([1, 2], "Send a JSON object"),
        (_with({"endpoint": KeyError}), "endpoint is missing"),
        (_with({"endpoint": "http://push.example.net/x"}), "must be an https URL"),
        (_with({"endpoint": "https:///nohost"}), "must be an https URL"),
        (_with({"endpoint": "https://user:pw@push.example.net/x"}), "must be an https URL"),
        (_with({"endpoint": "https://push.example.net/a b"}), "spaces or control"),
        (_with({"endpoint": "https://push.example.net/" + "x" * 3000}), "longer than 2048"),
        (_with({"endpoint": 42}), "endpoint is missing"),
        (_with({"keys": KeyError}), "keys is missing"),
        (_with({"keys.p256dh": KeyError}), "keys.p256dh is missing"),
        (_with({"keys.p256dh": "not+base64/url"}), "keys.p256dh is not base64url"),
        (_with({"keys.p256dh": b64url(b"\x04" + b"\x01" * 64)}), "not a P-256 public key"),
        (_with({"keys.p256dh": b64url(b"\x04" * 33)}), "must be 65 bytes; it is 33"),
        (_with({"keys.auth": b64url(b"x" * 12)}), "keys.auth must be 16 bytes; it is 12"),
        (_with({"keys.auth": ["x"]}), "keys.auth is missing"),
    ],
)
def test_bad_subscriptions_get_a_clear_400_and_store_nothing(ana, body, message):
    client = logged_in(ana)
    if isinstance(body, str):
        response = client.post(reverse("live_notify:push_subscribe"), body, content_type="application/json")
    else:
        response = post_json(client, "live_notify:push_subscribe", body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_unsubscribe_forgets_only_the_users_own_subscription(ana, user_factory):
    bob = user_factory("bob")
    anas, bobs = (
        browser_subscription("https://push.example.net/ana"),
        browser_subscription("https://push.example.net/bob"),
    )
    post_json(logged_in(ana), "live_notify:push_subscribe", anas)
    post_json(logged_in(bob), "live_notify:push_subscribe", bobs)

    other = post_json(logged_in(ana), "live_notify:push_unsubscribe", {"endpoint": bobs["endpoint"]})
    missing = post_json(logged_in(ana), "live_notify:push_unsubscribe", {"endpoint": "https://push.example.net/none"})
    assert other.status_code == missing.status_code == 200
    assert other.json() == missing.json() == {"subscribed": False, "deleted": False}
    assert PushSubscription.objects.count() == 2

    own = post_json(logged_in(ana), "live_notify:push_unsubscribe", {"endpoint": anas["endpoint"]})
    assert own.json() == {"subscribed": False, "deleted": True}
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]
    bad = post_json(logged_in(ana), "live_notify:push_unsubscribe", {"endpoint": 3})
    assert bad.status_code == 400 and "endpoint" in bad.json()["error"]


# --------------------------------------------------------------------------- marking read from a push


@override_settings(LIVE_NOTIFY=PUSH_SETTINGS)
def test_a_read_token_marks_its_notification_read_without_session_or_csrf(ana):
    notification = notify(ana, title="Hi")
    other = notify(ana, title="Other")
    client = Client(enforce_csrf_checks=True)
    token = payload(notification)["read_token"]
    response = post_json(client, "live_notify:push_read", {"token": token})
    assert response.status_code == 200 and response.json() == {"id": notification.pk, "is_read": True}
    assert Notification.objects.get(pk=notification.pk).read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None
    # Again: still fine, nothing changes.
    assert post_json(client, "live_notify:push_read", {"token": token}).status_code == 200


@override_settings(LIVE_NOTIFY=PUSH_SETTINGS)
def test_a_bad_read_token_changes_nothing_and_answers_the_same_400_for_any_notification(ana, user_factory):
    bob = user_factory("bob")
    anas, bobs = notify(ana, title="Ana's"), notify(bob, title="Bob's")
    token = payload(anas)["read_token"]
    _, stamp, signature = token.split(":")
    # A token for Bob's notification, signed with Ana's signature, and one naming another user.
    swapped = base64.urlsafe_b64encode(json.dumps([bobs.pk, str(ana.pk)], separators=(",", ":")).encode())
    answers = []
    for bad in (token[:-3] + "abc", token[1:], f"{swapped.decode().rstrip('=')}:{stamp}:{signature}", "x" * 40, ""):
        response = post_json(Client(), "live_notify:push_read", {"token": bad})
        answers.append((response.status_code, response.json()))
    assert answers[:4] == [(400, {"error": "The read token is invalid or has expired."})] * 4
    assert answers[4][0] == 400 and "token" in answers[4][1]["error"]
    assert not Notification.objects.filter(read_at__isnull=False).exists()
    not_json = Client().post(reverse("live_notify:push_read"), "{", content_type="application/json")
    assert not_json.status_code == 400


@override_settings(LIVE_NOTIFY={**PUSH_SETTINGS, "WEBPUSH_READ_TOKEN_MAX_AGE": -1})
def test_an_expired_read_token_changes_nothing(ana):
    notification = notify(ana, title="Hi")
    response = post_json(Client(), "live_notify:push_read", {"token": payload(notification)["read_token"]})
    assert response.status_code == 400 and "expired" in response.json()["error"]
    assert Notification.objects.get().read_at is None


# --------------------------------------------------------------------------- the service worker


def test_the_service_worker_is_served_with_the_scope_it_may_control(client):
    response = client.get(reverse("live_notify:push_service_worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"notificationclick" in response.content
    assert client.post(reverse("live_notify:push_service_worker")).status_code == 405


@override_settings(LIVE_NOTIFY={"WEBPUSH_SERVICE_WORKER_SCOPE": "/app/"})
def test_the_service_worker_scope_follows_the_setting(client):
    assert client.get(reverse("live_notify:push_service_worker"))["Service-Worker-Allowed"] == "/app/"


def _tag_config(user):
    request = RequestFactory().get("/")
    request.user = user
    html = Template("{% load live_notify %}{% live_notifications %}").render(RequestContext(request))
    start = html.index('id="live-notify-config" type="application/json">') + len(
        'id="live-notify-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_template_tag_gives_the_js_client_the_push_settings_only_when_keys_are_set(ana):
    assert "push" not in _tag_config(ana)
    with override_settings(LIVE_NOTIFY=PUSH_SETTINGS):
        push = _tag_config(ana)["push"]
    assert push == {
        "publicKey": PUBLIC_KEY,
        "serviceWorkerUrl": reverse("live_notify:push_service_worker"),
        "scope": "/",
        "subscribeUrl": reverse("live_notify:push_subscribe"),
        "unsubscribeUrl": reverse("live_notify:push_unsubscribe"),
    }


# --------------------------------------------------------------------------- E009 and the key command


def e009(**live_notify):
    with override_settings(LIVE_NOTIFY=live_notify):
        return [(message.id, message.msg) for message in check_webpush_keys()]


def test_e009_only_when_the_webpush_backend_is_listed():
    assert e009() == []
    assert e009(DELIVERY_BACKENDS=["some.other.Backend"]) == []
    [(check_id, message)] = e009(DELIVERY_BACKENDS=[WEBPUSH])
    assert check_id == "django_live_notify.E009"
    assert "WEBPUSH_VAPID_PRIVATE_KEY, WEBPUSH_VAPID_PUBLIC_KEY, WEBPUSH_VAPID_SUBJECT" in message
    assert e009(DELIVERY_BACKENDS=[WEBPUSH], **PUSH_SETTINGS) == []


def test_e009_when_the_keys_do_not_match_or_the_subject_is_not_a_url():
    _, other_public = vapid_keys()
    mismatched = {**PUSH_SETTINGS, "WEBPUSH_VAPID_PUBLIC_KEY": other_public}
    assert "not the public key" in e009(DELIVERY_BACKENDS=[WEBPUSH], **mismatched)[0][1]
    broken = {**PUSH_SETTINGS, "WEBPUSH_VAPID_PRIVATE_KEY": "bm90IGEga2V5"}
    assert "not a P-256 private key" in e009(DELIVERY_BACKENDS=[WEBPUSH], **broken)[0][1]
    no_url = {**PUSH_SETTINGS, "WEBPUSH_VAPID_SUBJECT": "admin@example.com"}
    assert "mailto: or https:" in e009(DELIVERY_BACKENDS=[WEBPUSH], **no_url)[0][1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"WEBPUSH_TTL": -1}, "WEBPUSH_TTL must be whole seconds, 0 or more, not -1."),
        ({"WEBPUSH_TTL": "1h"}, "WEBPUSH_TTL must be whole seconds"),
        ({"WEBPUSH_URGENCY": "urgent"}, "WEBPUSH_URGENCY must be one of very-low, low, normal, high, not 'urgent'."),
        ({"WEBPUSH_TYPE_OPTIONS": {"security": {"urgency": "max"}}}, "WEBPUSH_TYPE_OPTIONS['security']['urgency']"),
        ({"WEBPUSH_TYPE_OPTIONS": {"security": {"ttl": 1.5}}}, "WEBPUSH_TYPE_OPTIONS['security']['ttl']"),
        ({"WEBPUSH_TYPE_OPTIONS": {"security": "high"}}, "WEBPUSH_TYPE_OPTIONS must map types to dicts"),
        ({"WEBPUSH_TIMEOUT": 0}, "WEBPUSH_TIMEOUT must be a positive number of seconds, not 0."),
        ({"WEBPUSH_TIMEOUT": "10"}, "WEBPUSH_TIMEOUT must be a positive number of seconds, not '10'."),
        ({"WEBPUSH_READ_TOKEN_MAX_AGE": -1}, "WEBPUSH_READ_TOKEN_MAX_AGE must be a positive integer of seconds"),
        ({"WEBPUSH_READ_TOKEN_MAX_AGE": True}, "WEBPUSH_READ_TOKEN_MAX_AGE must be a positive integer of seconds"),
        ({"WEBPUSH_TTL": False}, "WEBPUSH_TTL must be whole seconds"),
    ],
)
def test_e009_when_ttl_or_urgency_is_out_of_bounds(options, message):
    [(check_id, text)] = e009(DELIVERY_BACKENDS=[WEBPUSH], **PUSH_SETTINGS, **options)
    assert check_id == "django_live_notify.E009" and message in text


def test_the_key_command_prints_a_working_matching_key_pair(capsys):
    call_command("live_notify_vapid_keys", subject="mailto:ops@example.org")
    lines = capsys.readouterr().out.strip().splitlines()
    settings = json.loads("{" + "".join(lines).rstrip(",") + "}")
    assert settings["WEBPUSH_VAPID_SUBJECT"] == "mailto:ops@example.org"
    assert vapid_public_key(settings["WEBPUSH_VAPID_PRIVATE_KEY"]) == settings["WEBPUSH_VAPID_PUBLIC_KEY"]
    assert len(base64.urlsafe_b64decode(settings["WEBPUSH_VAPID_PUBLIC_KEY"] + "=")) == 65
    assert e009(DELIVERY_BACKENDS=[WEBPUSH], **settings) == []
    call_command("live_notify_vapid_keys")
    assert settings["WEBPUSH_VAPID_PRIVATE_KEY"] not in capsys.readouterr().out
    with pytest.raises(CommandError, match="mailto: or https:"):
        call_command("live_notify_vapid_keys", subject="ops@example.org")


def test_a_user_keeps_the_20_subscriptions_last_heard_of_and_the_new_one(ana, user_factory):
    from datetime import timedelta

    from django.utils import timezone

    from django_live_notify.push_views import MAX_SUBSCRIPTIONS_PER_USER

    client = logged_in(ana)
    bodies = [
        browser_subscription(f"https://push.example.net/{number}") for number in range(MAX_SUBSCRIPTIONS_PER_USER)
    ]
    for body in bodies:
        assert post_json(client, "live_notify:push_subscribe", body).status_code == 201
    # Every old one reached its browser recently, except the first: it has been silent for long.
    now = timezone.now()
    PushSubscription.objects.update(last_success_at=now - timedelta(minutes=1), created_at=now - timedelta(days=30))
    PushSubscription.objects.filter(endpoint=bodies[0]["endpoint"]).update(last_success_at=now - timedelta(days=20))
    bob = user_factory("bob")
    post_json(logged_in(bob), "live_notify:push_subscribe", browser_subscription("https://push.example.net/bob"))

    newest = browser_subscription("https://push.example.net/newest")
    assert post_json(client, "live_notify:push_subscribe", newest).status_code == 201

    kept = set(PushSubscription.objects.filter(user=ana).values_list("endpoint", flat=True))
    assert len(kept) == MAX_SUBSCRIPTIONS_PER_USER
    assert newest["endpoint"] in kept and bodies[0]["endpoint"] not in kept
    assert PushSubscription.objects.filter(user=bob).count() == 1


def test_the_admin_lists_and_searches_subscriptions(client, ana, user_factory):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", password="pw")
    bob = user_factory("bob")
    post_json(
        logged_in(ana), "live_notify:push_subscribe", browser_subscription("https://fcm.example/a"), user_agent="Phone"
    )
    post_json(logged_in(bob), "live_notify:push_subscribe", browser_subscription("https://moz.example/b"))
    client.force_login(admin)
    url = "/admin/django_live_notify/pushsubscription/"
    page = client.get(url).content.decode()
    assert "https://fcm.example/a" in page and "https://moz.example/b" in page and "Phone" in page
    searched = client.get(url, {"q": "ana"}).content.decode()
    assert "https://fcm.example/a" in searched and "https://moz.example/b" not in searched
    detail = client.get(f"{url}{PushSubscription.objects.get(user=ana).pk}/change/")
    assert detail.status_code == 200


# --------------------------------------------------------------------------- a subscription the browser replaced


def test_resubscribe_moves_the_subscription_when_the_old_auth_secret_matches(ana):
    old = browser_subscription("https://push.example.net/old")
    post_json(logged_in(ana), "live_notify:push_subscribe", old)
    PushSubscription.objects.update(failure_count=2)
    new = browser_subscription("https://push.example.net/new")
    body = {"old_endpoint": old["endpoint"], "old_auth": old["keys"]["auth"], "subscription": new}
    response = post_json(Client(enforce_csrf_checks=True), "live_notify:push_resubscribe", body)
    assert response.status_code == 200 and response.json() == {"subscribed": True}
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.endpoint, stored.p256dh, stored.auth, stored.failure_count) == (
        ana,
        new["endpoint"],
        new["keys"]["p256dh"],
        new["keys"]["auth"],
        0,
    )


def test_resubscribe_with_an_unknown_endpoint_or_another_secret_changes_nothing(ana):
    old = browser_subscription("https://push.example.net/old")
    post_json(logged_in(ana), "live_notify:push_subscribe", old)
    new = browser_subscription("https://push.example.net/new")
    answers = []
    for old_endpoint, old_auth in (
        (old["endpoint"], b64url(secrets.token_bytes(16))),
        ("https://push.example.net/nobody", old["keys"]["auth"]),
    ):
        body = {"old_endpoint": old_endpoint, "old_auth": old_auth, "subscription": new}
        response = post_json(Client(), "live_notify:push_resubscribe", body)
        answers.append((response.status_code, response.json()))
    assert answers == [(400, {"error": "Unknown subscription, or not its auth secret."})] * 2
    bad = {"old_endpoint": old["endpoint"], "old_auth": old["keys"]["auth"], "subscription": {"endpoint": "http://x"}}
    response = post_json(Client(), "live_notify:push_resubscribe", bad)
    assert response.status_code == 400 and response.json()["error"].startswith("subscription: ")
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [old["endpoint"]]
