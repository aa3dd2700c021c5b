"""{% live_notifications %}, {% live_notify_badge %}, {% live_notify_unread_count %} and the filters."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, RequestContext, Template, TemplateSyntaxError
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from django_live_notify import notify
from django_live_notify.models import Notification
from django_live_notify.templatetags.live_notify import live_notify_safe_url
from tests.conftest import make_user

XSS = "<img src=x onerror=alert(1)>"


def render(source, user, **context):
    request = RequestFactory().get("/somewhere/")
    request.user = user
    template = Template("{% load live_notify %}" + source)
    return template.render(RequestContext(request, {"request": request, **context})), request


def config_of(html):
    match = re.search(r'<script id="live-notify-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


@pytest.fixture
def ana(db):
    return make_user("ana")


def test_anonymous_users_get_nothing(db):
    html, _request = render("{% live_notifications %}", AnonymousUser())
    assert html == ""
    html, _request = render("{% live_notify_badge %}|{% live_notify_unread_count %}", AnonymousUser())
    assert html == "|0"


def test_config_has_the_client_settings(ana):
    bob = make_user("bob")
    notify(ana, title="Old")
    read = notify(ana, title="Read")
    newest = notify(ana, title="Newest")
    notify(bob, title="Bob's newer")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created)
    html, request = render("{% live_notifications %}", ana)
    config = config_of(html)
    assert config == {
        "url": "/ws/notifications/",
        "apiUrl": "/notifications/api/",
        "historyUrl": "/notifications/",
        "heartbeatInterval": 30000,
        "position": "top-right",
        "sound": False,
        "unreadCount": 2,
        "lastId": newest.pk,
        "csrfToken": config["csrfToken"],
        "analytics": True,
        "ackInterval": 250,
        "strings": {"dismiss": "Dismiss"},
    }
    assert len(config["csrfToken"]) == 64
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"]  # the response will set the matching cookie


def test_config_turns_client_analytics_off_with_the_setting(ana):
    with override_settings(LIVE_NOTIFY={"ANALYTICS": False, "ACK_INTERVAL": 1000}):
        config = config_of(render("{% live_notifications %}", ana)[0])
    assert (config["analytics"], config["ackInterval"]) == (False, 1000)


def test_config_csrf_token_is_accepted_by_the_api(ana):
    notification = notify(ana, title="T")
    client = Client(enforce_csrf_checks=True)
    client.force_login(ana)
    token = config_of(client.get(reverse("live_notify:list")).content.decode())["csrfToken"]
    url = reverse("live_notify:api_mark_read", args=[notification.pk])
    assert client.post(url).status_code == 403
    assert client.post(url, headers={"X-CSRFToken": token}).status_code == 200


def test_output_has_stylesheet_badge_container_and_script(ana):
    notify(ana, title="T")
    html, _request = render("{% live_notifications %}", ana)
    assert '<link rel="stylesheet" href="/static/django_live_notify/live-notify.css">' in html
    assert (
        '<script src="/static/django_live_notify/live-notify-plural.js" defer></script>\n'
        '<script src="/static/django_live_notify/live-notify.js" defer></script>'
    ) in html
    assert_bell_named_by_its_text(html, 1, "1 unread")
    assert (
        '<div id="live-notify-toasts" class="live-notify-toasts live-notify-toasts--top-right" aria-live="polite">'
        "</div>"
    ) in html
    assert html.count("<script") == 3  # the JSON config, the counted phrases and the client, nothing inline


def test_arguments_override_the_defaults(ana):
    html, _request = render(
        '{% live_notifications ws_url="/custom/ws/" position="bottom-left" sound=True badge=False %}', ana
    )
    config = config_of(html)
    assert config["url"] == "/custom/ws/"
    assert config["position"] == "bottom-left"
    assert config["sound"] is True
    assert "live-notify-toasts--bottom-left" in html
    assert "data-live-notify-badge" not in html


@override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 12, "WEBSOCKET_PATH": "live/socket/"})
def test_config_follows_the_settings(ana):
    config = config_of(render("{% live_notifications %}", ana)[0])
    assert config["heartbeatInterval"] == 12000
    assert config["url"] == "/live/socket/"


def test_user_without_notifications_gets_a_hidden_badge_and_last_id_zero(ana):
    html, _request = render("{% live_notifications %}", ana)
    assert_bell_named_by_its_text(html, 0, "0 unread")
    assert config_of(html)["lastId"] == 0
    assert config_of(html)["unreadCount"] == 0


def test_an_unknown_position_is_a_clear_error(ana):
    with pytest.raises(TemplateSyntaxError, match="position must be one of top-right, top-left"):
        render('{% live_notifications position="middle" %}', ana)


def test_non_boolean_flags_are_a_clear_error(ana):
    with pytest.raises(TemplateSyntaxError, match="sound must be True or False"):
        render('{% live_notifications sound="yes" %}', ana)


def test_config_values_are_escaped_by_json_script(ana):
    notify(ana, title=XSS)
    html, _request = render("{% live_notifications ws_url=url %}", ana, url="</script><script>alert(1)</script>")
    assert "</script><script>alert(1)" not in html
    assert XSS not in html
    assert config_of(html)["url"] == "</script><script>alert(1)</script>"


def test_badge_and_unread_count_tags(ana):
    notify(ana, title="One")
    notify(ana, title="Two")
    html, _request = render("{% live_notify_badge %} {% live_notify_unread_count %}", ana)
    assert html.startswith('<a class="live-notify-bell" href="/notifications/"')
    assert_bell_named_by_its_text(html, 2, "2 unread")
    assert html.endswith(" 2")
    assert "live-notify-config" not in html


def assert_bell_named_by_its_text(html, count, phrase):
    """Assert that the bell link is named by its text: "Notifications" and "N unread", both visually hidden.

    An aria-label would hide the count from screen readers; the visible number is hidden from them instead, since the
    phrase says it in words. The client keeps both badges live (each is a data-live-notify-badge), the phrase in the
    forms of its data-live-notify-plural.
    """
    link = html[html.index('<a class="live-notify-bell"') : html.index("</a>") + 4]
    hidden = "" if count else " hidden"
    assert link.startswith('<a class="live-notify-bell" href="/notifications/"><svg')
    assert "aria-label" not in link
    name, number, words = link.split("</svg> ", 1)[1].removesuffix("</a>").split(" <span")
    assert name == '<span class="live-notify-visually-hidden">Notifications</span>'
    badge = f' class="live-notify-badge" data-live-notify-badge data-count="{count}" aria-hidden="true"{hidden}>'
    assert number == f"{badge}{count}</span>"
    attributes, text = words.removesuffix("</span>").split(">")
    assert text == phrase
    assert attributes.startswith(f' class="live-notify-visually-hidden" data-live-notify-badge data-count="{count}" ')
    assert attributes.endswith(f'"{hidden}')
    plural = json.loads(unescape(attributes.split('data-live-notify-plural="')[1].split('"')[0]))
    assert plural == {"forms": ["%(counter)s unread"], "index": "0" * 200}


def test_request_from_a_request_context_without_the_context_processor(ana):
    notify(ana, title="T")
    request = RequestFactory().get("/")
    request.user = ana
    template = Template("{% load live_notify %}{% live_notify_unread_count %}")
    assert template.render(RequestContext(request)) == "1"


def test_missing_request_is_a_clear_error(db):
    with pytest.raises(ImproperlyConfigured, match="needs the request"):
        Template("{% load live_notify %}{% live_notifications %}").render(Context({}))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/things/7/", "/things/7/"),
        ("https://example.com/x", "https://example.com/x"),
        ("  /padded/ ", "/padded/"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        (" java\tscript:alert(1)", ""),
        ("\x01javascript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_url_filter(url, expected):
    assert live_notify_safe_url(url) == expected
