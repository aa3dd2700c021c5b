"""The keys of Web Push: the site's VAPID key pair, a browser's subscription keys, and the read token in a push.

Nothing here sends: push_views.py checks subscriptions and read tokens with it, the ``live_notify_vapid_keys``
command and the checks make and read VAPID keys, and webpush.py, the backend that sends, signs read tokens into
its payloads. All are importable from webpush.py too.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core import signing

from .conf import live_settings

if TYPE_CHECKING:
    from .models import Notification

__all__ = [
    "InvalidSubscription",
    "clean_subscription",
    "generate_vapid_keys",
    "read_token",
    "unsign_read_token",
    "vapid_public_key",
]

# The salt keeps the module it was first signed in: tokens in pushes already sent stay valid.
READ_TOKEN_SALT = "django_live_notify.webpush.read"
P256DH_LENGTH = 65
AUTH_LENGTH = 16
ENDPOINT_MAX_LENGTH = 2048


class InvalidSubscription(ValueError):
    """A subscription the browser sent that cannot be used; its message is shown to the client."""


# ---------------------------------------------------------------------- VAPID keys


def generate_vapid_keys() -> tuple[str, str]:
    """Return a new VAPID key pair as base64url: the raw private key and the uncompressed public point."""
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64(raw), _public_b64(vapid.public_key)


def vapid_public_key(private_key: str) -> str:
    """Return the base64url public key (what browsers subscribe with) of a VAPID private key."""
    from py_vapid import Vapid02

    return _public_b64(Vapid02.from_string(private_key).public_key)


def _public_b64(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return _b64(public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---------------------------------------------------------------------- read tokens


def read_token(notification: Notification) -> str:
    """Return a signed token that lets its holder mark this one notification read, for a while."""
    return signing.dumps([notification.pk, str(notification.recipient_id)], salt=READ_TOKEN_SALT, compress=False)


def unsign_read_token(token: str) -> tuple[int, str]:
    """Return ``(notification id, recipient id)`` of a valid token; raise signing.BadSignature otherwise."""
    value = signing.loads(token, salt=READ_TOKEN_SALT, max_age=live_settings.webpush_read_token_max_age)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str)):
        raise signing.BadSignature("Malformed read token.")
    return value[0], value[1]


# ---------------------------------------------------------------------- subscriptions


def clean_subscription(data: Any) -> dict[str, str]:
    """Return ``endpoint``, ``p256dh`` and ``auth`` of a browser's ``PushSubscription.toJSON()``.

    Raise InvalidSubscription, naming what is wrong, for anything a push could not be sent to.
    """
    if not isinstance(data, dict):
        raise InvalidSubscription('Send a JSON object: {"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}.')
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("endpoint is missing.")
    if len(endpoint) > ENDPOINT_MAX_LENGTH:
        raise InvalidSubscription(f"endpoint is longer than {ENDPOINT_MAX_LENGTH} characters.")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise InvalidSubscription("endpoint is not a URL.") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or port == 0:
        raise InvalidSubscription("endpoint must be an https URL with a host.")
    if any(ord(character) < 33 for character in endpoint):
        raise InvalidSubscription("endpoint holds spaces or control characters.")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("keys is missing: send the subscription's toJSON().")
    p256dh = _base64url(keys.get("p256dh"), "keys.p256dh", P256DH_LENGTH)
    auth = _base64url(keys.get("auth"), "keys.auth", AUTH_LENGTH)
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), base64.urlsafe_b64decode(_pad(p256dh)))
    except ValueError:
        raise InvalidSubscription("keys.p256dh is not a P-256 public key.") from None
    return {"endpoint": endpoint, "p256dh": p256dh, "auth": auth}


def _base64url(value: Any, name: str, length: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSubscription(f"{name} is missing.")
    stripped = value.rstrip("=")
    if not stripped or any(c not in _BASE64URL for c in stripped):
        raise InvalidSubscription(f"{name} is not base64url.")
    try:
        raw = base64.urlsafe_b64decode(_pad(stripped))
    except ValueError:
        raise InvalidSubscription(f"{name} is not base64url.") from None
    if len(raw) != length:
        raise InvalidSubscription(f"{name} must be {length} bytes; it is {len(raw)}.")
    return stripped


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _pad(value: str) -> str:
    return value + "=" * (-len(value) % 4)
