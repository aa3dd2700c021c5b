"""Email fallback: the digest, delays per type, bounds, idempotency, one-click unsubscribe, i18n, and real SMTP."""

import re
import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_live_notify import delivery, notify
from django_live_notify.emailing import EmailBackend, unsubscribe_token, unsubscribe_url
from django_live_notify.models import ChannelPreference, Delivery
from django_live_notify.preferences import set_channel_preferences
from tests.conftest import make_user
from tests.servers import free_port

EMAIL = "django_live_notify.emailing.EmailBackend"
TYPES = [("system", "System"), ("comment", "Comment"), ("security", "Security")]
LIVE_NOTIFY = {
    "DELIVERY_BACKENDS": [EMAIL],
    "DELIVERY_MODE": "sweep",
    "EMAIL_DELAY_MINUTES": {"default": 30, "comment": 5},
    "EMAIL_DIGEST_MINUTES": 10,
    "EMAIL_MAX_PER_HOUR": 3,
    "EMAIL_BASE_URL": "https://app.example.com",
    "MANDATORY_TYPES": ["security"],
    "NOTIFICATION_TYPES": TYPES,
}
email_settings = override_settings(
    LIVE_NOTIFY=LIVE_NOTIFY, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
)


@pytest.fixture
def ana(db):
    return make_user("ana", email="ana@example.com")


def minutes(count):
    return timezone.now() + timedelta(minutes=count)


def unsubscribe_link(message):
    return re.fullmatch(r"<(https://app\.example\.com(/.+))>", message.extra_headers["List-Unsubscribe"]).group(2)


@email_settings
def test_rows_left_unread_go_out_as_one_digest_after_their_delay(ana):
    notify(ana, title="Pia consertada", url="/tickets/1/")
    notify(ana, title="Second", message="More text")
    read = notify(ana, title="Already read")
    read.read_at = timezone.now()
    read.save()

    delivery.sweep(now=minutes(29))
    assert mail.outbox == []
    delivery.sweep(now=minutes(31))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@example.com"]
    assert message.subject == "You have 2 unread notifications"
    assert "Pia consertada" in message.body and "https://app.example.com/tickets/1/" in message.body
    assert "Already read" not in message.body
    html = message.alternatives[0]
    assert html[1] == "text/html"
    assert '<a href="https://app.example.com/tickets/1/"><strong>Pia consertada</strong></a>' in html[0]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_link(message)


@email_settings
def test_the_delay_is_per_type(ana):
    notify(ana, title="comment", notification_type="comment")
    notify(ana, title="system")
    delivery.sweep(now=minutes(6))
    assert [message.subject for message in mail.outbox] == ["You have 1 unread notification"]
    assert "comment" in mail.outbox[0].body


@email_settings
def test_each_row_is_emailed_once(ana):
    notify(ana, title="once")
    for _ in range(3):
        delivery.sweep(now=minutes(31))
    delivery.sweep(now=minutes(120))
    assert len(mail.outbox) == 1
    assert Delivery.objects.get().status == Delivery.STATUS.sent


@email_settings
def test_emails_to_one_user_are_bounded_per_hour(ana):
    # Every 11 minutes one more row comes due: one email each, until the hour holds three.
    for step in range(5):
        notify(ana, title=f"row {step}")
        delivery.sweep(now=minutes(31 + 11 * step))
    assert len(mail.outbox) == 3
    delivery.sweep(now=minutes(31 + 61))
    assert len(mail.outbox) == 4
    assert mail.outbox[3].subject == "You have 2 unread notifications", "what waited goes together"


@email_settings
def test_a_user_without_an_address_is_skipped(db):
    nobody = make_user("nobody")
    notify(nobody, title="x")
    delivery.sweep(now=minutes(31))
    assert mail.outbox == []
    assert Delivery.objects.get().last_error == "unreachable"


@email_settings
def test_the_unsubscribe_link_asks_then_turns_email_off_for_those_types(ana):
    notify(ana, title="comment", notification_type="comment")
    notify(ana, title="security", notification_type="security")
    delivery.sweep(now=minutes(31))
    path = unsubscribe_link(mail.outbox[0])

    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200
    assert "Stop these emails?" in page.content.decode() and "Comment" in page.content.decode()
    assert not ChannelPreference.objects.exists(), "GET changes nothing"

    # A mail client's one-click POST: no login, no CSRF token.
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert list(ChannelPreference.objects.values_list("user", "notification_type", "channel", "enabled")) == [
        (ana.pk, "comment", "email", False)
    ], "security is mandatory: it stays"

    notify(ana, title="comment again", notification_type="comment")
    notify(ana, title="system")
    delivery.sweep(now=minutes(120))
    assert "comment again" not in mail.outbox[1].body and "system" in mail.outbox[1].body


@email_settings
def test_a_mandatory_only_email_has_no_unsubscribe_header(ana):
    notify(ana, title="security", notification_type="security")
    delivery.sweep(now=minutes(31))
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


@email_settings
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_or_foreign_link_is_a_400_that_changes_nothing(ana, method):
    token = unsubscribe_token(ana, ["comment"])
    bad_tokens = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token.replace(token.split(":")[0], unsubscribe_token(make_user("eve"), ["comment"]).split(":")[0]),
        "nonsense",
    ]
    for bad in bad_tokens:
        url = reverse("live_notify:email_unsubscribe", kwargs={"token": bad})
        response = getattr(Client(enforce_csrf_checks=True), method)(url)
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.content.decode()
    assert not ChannelPreference.objects.exists()


@email_settings
def test_the_unsubscribe_url_is_absolute_and_signed_for_the_user(ana):
    url = unsubscribe_url(ana, ["comment"])
    assert url.startswith("https://app.example.com/notifications/email/unsubscribe/")


class PortugueseEmail(EmailBackend):
    def language_for(self, user):
        return "pt-br"


@override_settings(
    LIVE_NOTIFY={**LIVE_NOTIFY, "DELIVERY_BACKENDS": ["tests.test_emailing.PortugueseEmail"]},
    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
)
def test_emails_are_translated(ana):
    notify(ana, title="Nova solicitação")
    notify(ana, title="Outra", notification_type="comment")
    delivery.sweep(now=minutes(31))
    message = mail.outbox[0]
    assert message.subject == "Você tem 2 notificações não lidas"
    assert "Para não receber mais e-mails sobre" in message.body
    assert "Não receber mais e-mails sobre" in message.alternatives[0][0]


# --------------------------------------------------------------------------- preferences


@email_settings
def test_the_api_shows_and_changes_channels(ana):
    client = Client()
    client.force_login(ana)
    url = reverse("live_notify:api_preferences")
    body = client.get(url).json()
    assert body["channels"] == [{"name": "email", "label": "Email"}]
    assert body["preferences"]["comment"]["channels"] == {"email": True}

    response = client.post(
        url, {"comment": {"delivery": "store", "channels": {"email": False}}}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["preferences"]["comment"] == {
        "label": "Comment",
        "delivery": "store",
        "default": "live",
        "mandatory": False,
        "channels": {"email": False},
    }
    response = client.post(url, {"comment": {"channels": {"email": None}}}, content_type="application/json")
    assert response.json()["preferences"]["comment"]["channels"] == {"email": True}
    assert not ChannelPreference.objects.exists(), "the default is not stored"


@email_settings
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"security": {"channels": {"email": False}}}, "'security' notifications are mandatory: they cannot be "),
        ({"comment": {"channels": {"sms": False}}}, "Unknown channel 'sms'; channels: email."),
        ({"comment": {"channels": {"email": "no"}}}, "'comment' by email must be true, false or null."),
        ({"comment": {"channels": []}}, "Channels of 'comment' must be an object"),
        ({"comment": {"loud": 1}}, "Unknown keys for 'comment': loud"),
        ({"comment": {"delivery": "off", "channels": {"sms": True}}}, "Unknown channel"),
    ],
)
def test_the_api_refuses_bad_channel_choices_and_saves_nothing(ana, body, error):
    client = Client()
    client.force_login(ana)
    response = client.post(reverse("live_notify:api_preferences"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not ChannelPreference.objects.exists()
    assert not ana.live_notify_preferences.exists()


@email_settings
def test_the_page_has_a_checkbox_per_channel(ana):
    client = Client()
    client.force_login(ana)
    url = reverse("live_notify:preferences")
    html = client.get(url).content.decode()
    assert 'name="channel:email:comment" aria-label="Comment: Email" checked' in html
    assert 'name="channel:email:security" aria-label="Security: Email" checked disabled' in html

    # Unticked: the box is not sent, the row marker is.
    response = client.post(url, {"delivery:comment": "live", "channels:comment": "1", "channels:system": "1",
                                 "channel:email:system": "on"})  # fmt: skip
    assert response.status_code == 302
    assert list(ChannelPreference.objects.values_list("notification_type", "enabled")) == [("comment", False)]


def test_without_channels_the_page_and_api_are_as_before(ana):
    client = Client()
    client.force_login(ana)
    assert "channels" not in client.get(reverse("live_notify:api_preferences")).json()
    assert "channel:" not in client.get(reverse("live_notify:preferences")).content.decode()


@email_settings
def test_channel_preferences_are_bounded(ana):
    with override_settings(LIVE_NOTIFY={**LIVE_NOTIFY, "MAX_PREFERENCES": 1, "NOTIFICATION_TYPES": None}):
        set_channel_preferences(ana, {"a": {"email": False}})
        with pytest.raises(ValueError, match="At most 1 channel choices"):
            set_channel_preferences(ana, {"b": {"email": False}})
    assert ChannelPreference.objects.count() == 1


# --------------------------------------------------------------------------- real SMTP


@pytest.fixture
def smtp_server():
    """Give a real SMTP server on 127.0.0.1 (aiosmtpd), and the messages it received."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_a_digest_goes_through_a_real_smtp_server(ana, smtp_server):
    port, received = smtp_server
    with override_settings(
        LIVE_NOTIFY=LIVE_NOTIFY,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=10,
        DEFAULT_FROM_EMAIL="notify@example.com",
    ):
        notify(ana, title="Conserto concluído ✓", url="/tickets/7/")
        notify(ana, title="Comment", notification_type="comment")
        delivery.sweep(now=minutes(31))
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) == 1
        message = message_from_bytes(received[0].as_bytes(), policy=default_policy)
        assert message["To"] == "ana@example.com" and message["From"] == "notify@example.com"
        assert message["Subject"] == "You have 2 unread notifications"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "Conserto concluído ✓" in text and "https://app.example.com/tickets/7/" in html
        # The header's link works as a one-click POST.
        link = re.fullmatch(r"<https://app\.example\.com(/.+)>", str(message["List-Unsubscribe"]).strip()).group(1)
        assert Client(enforce_csrf_checks=True).post(link).status_code == 200
        assert ChannelPreference.objects.filter(user=ana, enabled=False).count() == 2


@email_settings
def test_the_unsubscribe_pages_are_translated(ana):
    from django.utils import translation

    url = reverse("live_notify:email_unsubscribe", kwargs={"token": unsubscribe_token(ana, ["comment"])})
    with translation.override("pt-br"):
        assert "Parar estes e-mails?" in Client().get(url).content.decode()
        done = Client().post(url).content.decode()
        assert "Você não receberá mais e-mails sobre Comment." in done
        bad_url = reverse("live_notify:email_unsubscribe", kwargs={"token": unsubscribe_token(ana, ["comment"]) + "x"})
        bad = Client().get(bad_url).content.decode()
        assert "Este link de cancelamento não é válido" in bad
