"""The handshake's Origin must be the socket's own origin (scheme, host and port) or one of CSRF_TRUSTED_ORIGINS."""

import pytest
from django.test import override_settings

from django_live_notify.origins import origin_allowed, site_origin
from django_live_notify.testing import communicator
from tests.conftest import make_user


def scope(origin=None, host="testserver", scheme="ws", extra=()):
    headers = []
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers.extend(extra)
    return {"type": "websocket", "path": "/ws/notifications/", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("socket_scope", "expected"),
    [
        (scope(host="testserver"), "http://testserver"),
        (scope(host="testserver:8000"), "http://testserver:8000"),
        (scope(host="testserver", scheme="wss"), "https://testserver"),
        (scope(host="evil.example"), None),  # not in ALLOWED_HOSTS
        (scope(host="testserver\\x"), None),
    ],
)
def test_the_sites_own_origin_is_the_host_header_with_the_sockets_scheme(socket_scope, expected):
    assert site_origin(socket_scope) == expected


@pytest.mark.parametrize(
    ("origin", "host", "socket_scheme", "allowed"),
    [
        ("http://testserver", "testserver", "ws", True),
        ("https://testserver", "testserver", "wss", True),
        ("http://testserver:8000", "testserver:8000", "ws", True),
        ("https://testserver", "testserver", "ws", False),
        ("http://testserver", "testserver", "wss", False),
        ("http://testserver:8001", "testserver:8000", "ws", False),
        ("http://testserver", "testserver:8000", "ws", False),
        ("http://testserver:8000", "testserver", "ws", False),
        ("http://evil.example", "evil.example", "ws", False),  # a Host outside ALLOWED_HOSTS is no own origin
        ("https://app.example.com", "testserver", "ws", True),
        ("https://a.b.trusted.example", "testserver", "ws", True),
        ("http://a.trusted.example", "testserver", "ws", False),
        (None, "testserver", "ws", False),
        ("", "testserver", "ws", False),
        ("null", "testserver", "ws", False),
    ],
)
def test_the_origin_must_match_scheme_host_and_port(origin, host, socket_scheme, allowed):
    assert origin_allowed(scope(origin, host, socket_scheme)) is allowed


def test_two_origin_headers_are_refused():
    twice = scope("http://testserver", extra=[(b"origin", b"http://testserver")])
    assert origin_allowed(twice) is False


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_tls_proxy_the_scheme_comes_from_the_proxys_header_as_for_csrf():
    forwarded = [(b"x-forwarded-proto", b"https")]
    assert origin_allowed(scope("https://testserver", extra=forwarded)) is True
    assert origin_allowed(scope("http://testserver", extra=forwarded)) is False
    assert origin_allowed(scope("http://testserver")) is True  # no header: the socket's own scheme


def test_without_secure_proxy_ssl_header_a_forwarded_proto_is_ignored():
    forwarded = [(b"x-forwarded-proto", b"https")]
    assert origin_allowed(scope("https://testserver", extra=forwarded)) is False


@override_settings(USE_X_FORWARDED_HOST=True)
def test_with_use_x_forwarded_host_the_host_comes_from_the_proxy():
    forwarded = [(b"x-forwarded-host", b"localhost:8443")]
    assert origin_allowed(scope("http://localhost:8443", host="127.0.0.1:9000", extra=forwarded)) is True


@override_settings(ALLOWED_HOSTS=[], DEBUG=True)
def test_with_debug_and_no_allowed_hosts_localhost_is_its_own_origin_as_in_django():
    assert origin_allowed(scope("http://localhost:8000", host="localhost:8000")) is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "opens"),
    [("http://testserver", True), ("http://testserver:8080", False), ("https://testserver", False)],
)
async def test_cookie_sockets_through_the_whole_stack(origin, opens):
    from asgiref.sync import sync_to_async

    ana = await sync_to_async(make_user)("ana")
    socket = await communicator(ana, origin=origin, expect_open=opens)
    await socket.disconnect()
