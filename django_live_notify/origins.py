"""The Origin check of socket handshakes: the same rule as Django's CSRF check of a POST.

A page may open a socket with the user's cookies from anywhere, so the
handshake's ``Origin`` must match scheme, host and port of either the
socket's own site (its ``Host`` header and scheme, read as Django reads a
request: ``ALLOWED_HOSTS``, ``USE_X_FORWARDED_HOST``,
``SECURE_PROXY_SSL_HEADER``) or an entry of ``CSRF_TRUSTED_ORIGINS``
(``https://*.example.com`` trusts every subdomain).
"""

from __future__ import annotations

import functools
import io
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.http import is_same_domain

__all__ = ["origin_allowed", "origin_of", "site_origin"]


def origin_of(scope: dict[str, Any]) -> str | None:
    """Return the handshake's Origin header, or None when it has none or more than one."""
    origins = [value for name, value in scope.get("headers", ()) if name == b"origin"]
    if len(origins) != 1:
        return None
    return origins[0].decode("latin1")


# The headers Django reads to find a request's host and scheme (SECURE_PROXY_SSL_HEADER names one more).
HOST_HEADERS = frozenset({b"host", b"x-forwarded-host", b"x-forwarded-port"})


def site_origin(scope: dict[str, Any]) -> str | None:
    """Return the origin of the site the socket was opened on, or None when its host is not in ALLOWED_HOSTS."""
    proxy_ssl_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    wanted = HOST_HEADERS
    if proxy_ssl_header:
        wanted = wanted | {proxy_ssl_header[0].removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")}
    headers = tuple((name, value) for name, value in scope.get("headers", ()) if name in wanted)
    server = scope.get("server")
    return _site_origin(scope.get("scheme") in ("wss", "https"), headers, tuple(server) if server else None)


@functools.lru_cache(maxsize=256)
def _site_origin(secure: bool, headers: tuple[tuple[bytes, bytes], ...], server: tuple[Any, ...] | None) -> str | None:
    # The handshake read as the GET request it is, so that proxies' headers count as they do for CSRF.
    request = ASGIRequest(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https" if secure else "http",
            "path": "/",
            "query_string": b"",
            "headers": list(headers),
            "server": server,
        },
        io.BytesIO(),
    )
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'https' if request.is_secure() else 'http'}://{host}"


@receiver(setting_changed)
def _forget_site_origins(*, setting: str, **kwargs: Any) -> None:
    if setting in (
        "ALLOWED_HOSTS",
        "DEBUG",
        "USE_X_FORWARDED_HOST",
        "USE_X_FORWARDED_PORT",
        "SECURE_PROXY_SSL_HEADER",
    ):
        _site_origin.cache_clear()


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Tell whether the handshake comes from the socket's own origin or a trusted one."""
    origin = origin_of(scope)
    if not origin:
        return False
    if origin == site_origin(scope):
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    for entry in trusted:
        if "*" in entry:
            trusted_origin = urlsplit(entry)
            if parsed.scheme == trusted_origin.scheme and is_same_domain(
                parsed.netloc, trusted_origin.netloc.lstrip("*")
            ):
                return True
    return False
