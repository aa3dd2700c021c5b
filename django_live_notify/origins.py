"""The Origin check of socket handshakes: the same rule as Django's CSRF check of a POST.

A page may open a socket with the user's cookies from anywhere, so the
handshake's ``Origin`` must match scheme, host and port of either the
socket's own site (its ``Host`` header and scheme, read as Django reads a
request: ``ALLOWED_HOSTS``, ``USE_X_FORWARDED_HOST``,
``SECURE_PROXY_SSL_HEADER``) or an entry of ``CSRF_TRUSTED_ORIGINS``
(``https://*.example.com`` trusts every subdomain).
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.utils.http import is_same_domain

__all__ = ["origin_allowed", "origin_of", "site_origin"]


def origin_of(scope: dict[str, Any]) -> str | None:
    """Return the handshake's Origin header, or None when it has none or more than one."""
    origins = [value for name, value in scope.get("headers", ()) if name == b"origin"]
    if len(origins) != 1:
        return None
    return origins[0].decode("latin1")


def site_origin(scope: dict[str, Any]) -> str | None:
    """Return the origin of the site the socket was opened on, or None when its host is not in ALLOWED_HOSTS."""
    # The handshake read as the GET request it is, so that proxies' headers count as they do for CSRF.
    request = ASGIRequest(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https" if scope.get("scheme") in ("wss", "https") else "http",
            "path": scope.get("path") or "/",
            "root_path": scope.get("root_path", ""),
            "query_string": b"",
            "headers": scope.get("headers", []),
            "server": scope.get("server"),
            "client": scope.get("client"),
        },
        io.BytesIO(),
    )
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'https' if request.is_secure() else 'http'}://{host}"


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
