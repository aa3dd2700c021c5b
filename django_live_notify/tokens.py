"""Short-lived signed tokens for sockets without cookies (mobile apps, pages of trusted origins).

A token names a user and expires after ``LIVE_NOTIFY["TOKEN_MAX_AGE"]``
seconds. It is checked in-process from its signature: no database round trip
when a socket connects. Get one from ``POST notifications/api/token/`` and
pass it as the subprotocol ``live-notify.token.<token>`` (preferred: servers
do not log it) or as ``?token=<token>``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from channels.security.websocket import WebsocketDenier
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.crypto import salted_hmac

from .conf import live_settings
from .origins import origin_allowed

if TYPE_CHECKING:
    from .api_types import User

SALT = "django_live_notify.socket-token"
SUBPROTOCOL = "live-notify.v1"
TOKEN_SUBPROTOCOL_PREFIX = "live-notify.token."


# When each user last lost access (logout, deactivation, password change, deletion), as
# recorded in this process or announced by another one: tokens issued before may not connect.
_revoked_at: dict[str, float] = {}
_revoked_lock = threading.Lock()


def record_revocation(key: str, revoked_at: float) -> None:
    """Refuse tokens of user ``key`` issued until ``revoked_at``."""
    with _revoked_lock:
        _revoked_at[key] = max(revoked_at, _revoked_at.get(key, 0.0))


def token_revoked(key: str, issued_at: float) -> bool:
    """Tell whether a socket token of user ``key`` issued at ``issued_at`` was revoked since."""
    return _revoked_at.get(key, 0.0) >= issued_at


def forget_old_revocations() -> None:
    """Drop revocations older than any token that could still connect."""
    expired = time.time() - live_settings.token_max_age - 1
    with _revoked_lock:
        for key in [key for key, revoked_at in _revoked_at.items() if revoked_at < expired]:
            del _revoked_at[key]


def _signer() -> signing.TimestampSigner:
    # "." keeps the token within the characters a WebSocket subprotocol may hold.
    return signing.TimestampSigner(salt=SALT, sep=".")


def make_token(user: User) -> str:
    """Return a token that authenticates ``user``'s sockets until it expires."""
    payload: dict[str, Any] = {"u": str(user.pk), "t": time.time()}
    digest = credentials_digest(user)
    if digest is not None:
        payload["h"] = digest
    return _signer().sign_object(payload)


def credentials_digest(user: User) -> str | None:
    """Return a short digest of ``user``'s session auth hash, which changes with the password; None without one.

    A token carries it so that its sockets close once the password changes,
    however it changed; it reveals nothing of the hash itself.
    """
    get_session_auth_hash = getattr(user, "get_session_auth_hash", None)
    if get_session_auth_hash is None:
        return None
    return salted_hmac(SALT, get_session_auth_hash(), algorithm="sha256").hexdigest()[:20]


def user_from_token(token: str) -> TokenUser | None:
    """Return the user a valid, unexpired token names, or None. Never logs the token."""
    try:
        payload = _signer().unsign_object(token, max_age=live_settings.token_max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), str):
        return None
    if not isinstance(payload.get("t"), (int, float)):
        return None
    digest = payload.get("h")
    return TokenUser(payload["u"], float(payload["t"]), digest if isinstance(digest, str) else None)


class TokenUser:
    """A user known by primary key only; the full row loads on first use of any other attribute.

    The consumer needs only ``pk`` and ``is_authenticated``, so a token socket
    connects without a query. Signal receivers that get this object from sync
    code may use any attribute of the real user.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, pk: str, issued_at: float, credentials: str | None = None) -> None:
        self.pk = self.id = get_user_model()._meta.pk.to_python(pk)
        self.issued_at = issued_at
        # credentials_digest() of the user when the token was issued.
        self.credentials = credentials

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        user = self.__dict__.get("_user")
        if user is None:
            user = self.__dict__["_user"] = get_user_model()._default_manager.get(pk=self.pk)
        return getattr(user, name)


def token_from_scope(scope: dict[str, Any]) -> str | None:
    """Return the token a socket offered as a subprotocol or in its query string, if any."""
    for subprotocol in scope.get("subprotocols") or ():
        if subprotocol.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return subprotocol[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    query = parse_qs(scope.get("query_string", b"").decode("latin1"), keep_blank_values=True)
    tokens = query.get("token")
    return tokens[0] if tokens else None


class TokenOrOriginValidator:
    """Let a socket in from its own origin or one in ``CSRF_TRUSTED_ORIGINS``; a token socket also with no Origin.

    A page of another origin can make a browser send the user's cookies, so a
    cookie socket must come from an allowed origin, matched on scheme, host
    and port (see ``django_live_notify.origins``). A token is handed out only
    by a CSRF-protected POST, which Django accepts from the same origins, so
    a browser page that holds a token comes from one of them; a native client
    sends no Origin at all and is let in on its token alone.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if self.allows(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    def allows(self, scope: dict[str, Any]) -> bool:
        """Tell whether the socket may go on: it comes from an allowed origin, or offers a token and no Origin."""
        if scope["type"] != "websocket":
            raise ValueError("You cannot use TokenOrOriginValidator on a non-WebSocket connection")
        if token_from_scope(scope) is not None and not any(
            name == b"origin" for name, _value in scope.get("headers", ())
        ):
            return True
        return origin_allowed(scope)
