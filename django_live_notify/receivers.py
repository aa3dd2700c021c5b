"""Close sockets whose session stopped being valid: logout, deactivation, password change, deletion.

Changes that send no signal are caught by the hubs' periodic re-check (``session_check.py``).
"""

from __future__ import annotations

import logging
import time
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.backends import db as db_sessions
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from . import protocol, publish, tokens

logger = logging.getLogger("django_live_notify")


def _close_after_commit(
    user_pk: Any, session_key: str | None, auth_hash: str | None, code: int, revoke: bool = True
) -> None:
    key = protocol.user_key(user_pk)
    revoked_at = time.time() if revoke else 0.0
    message = publish.close_message(key, session_key, auth_hash, code, revoked_at)

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


def close_on_session_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Close the sockets of a deleted session ("sign out everywhere"), in every process, with 4001.

    An expired session is left to the re-check, so that clearing expired
    sessions sends nothing. The user's socket tokens stay valid: a session is
    also deleted when its key is cycled at login.
    """
    if instance.expire_date <= timezone.now():
        return
    user_pk = _session_user_pk(instance)
    if user_pk is not None:
        _close_after_commit(user_pk, instance.session_key, None, protocol.CLOSE_UNAUTHENTICATED, revoke=False)


def _session_user_pk(instance: Any) -> Any:
    # Never let a delete fail here; decode() itself answers {} for data it cannot read.
    try:
        return type(instance).get_session_store_class()().decode(instance.session_data).get(SESSION_KEY)
    except Exception:
        logger.warning("Could not read the user of a deleted session; its sockets close at the next sweep")
        return None


def session_models() -> set[Any]:
    """Return the session tables' models: Django's, when installed, and the session engine's own."""
    models = set()
    if apps.is_installed("django.contrib.sessions"):
        from django.contrib.sessions.models import Session

        models.add(Session)
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if issubclass(store_class, db_sessions.SessionStore):
        models.add(store_class.get_model_class())
    return models


def connect() -> None:
    user_model = get_user_model()
    for model in session_models():
        post_delete.connect(
            close_on_session_delete,
            sender=model,
            dispatch_uid=f"django_live_notify.close_on_session.{model._meta.label}",
        )
    user_logged_out.connect(close_on_logout, dispatch_uid="django_live_notify.close_on_logout")
    post_save.connect(close_on_user_change, sender=user_model, dispatch_uid="django_live_notify.close_on_user_change")
    post_delete.connect(
        close_on_user_delete, sender=user_model, dispatch_uid="django_live_notify.close_on_user_delete"
    )
