"""Close sockets whose session stopped being valid: logout, deactivation, password change, deletion."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import protocol, publish, tokens


def _close_after_commit(user_pk: Any, session_key: str | None, auth_hash: str | None, code: int) -> None:
    message = publish.close_message(protocol.user_key(user_pk), session_key, auth_hash, code)
    key, _session, _hash, _code, revoked_at = message["close"][0]

    # To every process: those without the user's sockets must still refuse its older tokens.
    def announce() -> None:
        tokens.record_revocation(key, revoked_at)
        publish.publish(message, everyone=True)

    transaction.on_commit(announce)


def close_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Close the sockets of the session that logged out (with 4001: log in again)."""
    if user is None or request is None or getattr(request, "session", None) is None:
        return
    session_key = request.session.session_key
    if session_key:
        _close_after_commit(user.pk, session_key, None, protocol.CLOSE_UNAUTHENTICATED)


def close_on_user_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Close every socket of a deactivated user, and sockets of other sessions after a password change."""
    if created:
        return
    if not getattr(instance, "is_active", True):
        _close_after_commit(instance.pk, None, None, protocol.CLOSE_UNAUTHENTICATED)
    elif getattr(instance, "_password", None) is not None:
        # set_password() was called: sessions with the old auth hash are no longer valid. The
        # session that changed it (update_session_auth_hash) reconnects and authenticates again.
        _close_after_commit(instance.pk, None, instance.get_session_auth_hash(), protocol.CLOSE_CREDENTIALS_CHANGED)


def close_on_user_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    _close_after_commit(instance.pk, None, None, protocol.CLOSE_UNAUTHENTICATED)


def connect() -> None:
    user_model = get_user_model()
    user_logged_out.connect(close_on_logout, dispatch_uid="django_live_notify.close_on_logout")
    post_save.connect(close_on_user_change, sender=user_model, dispatch_uid="django_live_notify.close_on_user_change")
    post_delete.connect(
        close_on_user_delete, sender=user_model, dispatch_uid="django_live_notify.close_on_user_delete"
    )
