"""Socket authentication in one middleware: a token when the socket offers one, else the session cookie.

It replaces channels' ``AuthMiddlewareStack`` (cookie, session and auth
middleware) in front of the notification socket, with the same results, and
two differences that matter when thousands of clients connect at once:

* Sessions of handshakes that arrive together are looked up together: while
  one lookup runs on channels' single database thread, the handshakes that
  arrive meanwhile queue up and go as the next batch, in one thread hop, one
  session query and one user query. channels' stack takes one thread hop and
  two queries per socket, so a reconnect storm waited in a line of them.
* It is one layer, not three: no per-socket wrapper around ``send`` and fewer
  coroutine frames and scope copies held for each open socket.

``scope["session"]`` is a real ``SessionStore`` of the project's
``SESSION_ENGINE`` (already loaded) and ``scope["user"]`` the user or
``AnonymousUser``, so other consumers behind it work as behind channels'
stack. A session cookie that cannot be a key of the session engine (see
``session_key_allowed()``) means anonymous before any query, as Django
treats it. The batched path covers the database session engine and backends
that use ``ModelBackend.get_user``; other engines and backends are asked one
by one, still inside the batch's single thread hop.
"""

from __future__ import annotations

import functools
import logging
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db as db_sessions
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, SessionBase
from django.core.exceptions import SuspiciousOperation
from django.http import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .batching import Batcher
from .tokens import token_from_scope, user_from_token

logger = logging.getLogger("django_live_notify")


class SocketAuthMiddleware:
    """Put ``cookies``, ``session`` and ``user`` in a socket's scope; see the module docstring."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.inner(await self.resolve(scope), receive, send)

    @staticmethod
    async def resolve(scope: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Return a copy of ``scope`` with ``cookies``, ``session``, ``user`` and ``extra`` set."""
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        token = token_from_scope(scope)
        if token is not None:
            session = session_store()
            session._session_cache = {}
            user: Any = user_from_token(token) or AnonymousUser()
        else:
            session, user = await authenticate(cookies.get(settings.SESSION_COOKIE_NAME))
        return dict(scope, cookies=cookies, session=session, user=user, **extra)


def session_store(session_key: str | None = None) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


# Django's session keys are 32 of these characters; the database column holds 40.
SESSION_KEY_LENGTHS = range(8, 41)
_KEY_CHARS = frozenset(VALID_KEY_CHARS)


def session_key_allowed(session_key: str | None) -> bool:
    """Tell whether ``session_key`` may be looked up: None, or a key in the session engine's format.

    Engines that make their keys with Django's generator (database, cache,
    cached_db, file) only ever issue 8 to 40 characters of ``a-z0-9``; any
    other cookie (a NUL byte, say, which PostgreSQL refuses in a query) is
    anonymous without a query. Engines with keys of their own (signed cookies)
    are not checked here.
    """
    if session_key is None or not _django_keys(settings.SESSION_ENGINE):
        return True
    return len(session_key) in SESSION_KEY_LENGTHS and _KEY_CHARS.issuperset(session_key)


@functools.cache
def _django_keys(engine: str) -> bool:
    """Tell whether the session engine makes its keys with Django's generator (asked once per engine)."""
    store_class = import_module(engine).SessionStore
    return store_class._get_session_key is SessionBase._get_session_key and getattr(
        store_class, "_get_new_session_key", None
    ) is getattr(SessionBase, "_get_new_session_key", None)


async def authenticate(session_key: str | None) -> tuple[Any, Any]:
    """Return ``(session, user)`` for a session cookie, batched with the handshakes waiting beside it."""
    if not session_key or not session_key_allowed(session_key):
        session = session_store()
        session._session_cache = {}
        return session, AnonymousUser()
    return await _authenticate_batched(session_key)


def authenticate_sessions(session_keys: list[str | None]) -> list[tuple[Any, Any]]:
    """Return ``(session, user)`` for each session key, with as few queries as the engine and backends allow.

    The same answers as channels' ``AuthMiddlewareStack``: a missing, expired
    or tampered session, a user the backend refuses (inactive) or a session
    whose auth hash no longer matches (password changed; the session is then
    flushed) all give ``AnonymousUser``.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    stores = [store_class(key if session_key_allowed(key) else None) for key in session_keys]
    _load_sessions(stores)
    users = _session_users(stores)
    results: list[tuple[Any, Any]] = []
    for store, user in zip(stores, users, strict=True):
        if user is not None and hasattr(user, "get_session_auth_hash") and not _hash_verified(store, user):
            store.flush()
            user = None
        results.append((store, user or AnonymousUser()))
    return results


def _load_sessions(stores: list[Any]) -> None:
    """Fill each store's data: one query for the database engine, else each store loads itself."""
    batched = [store for store in stores if _loads_like_db(store) and store.session_key]
    rows: dict[str, str] = {}
    if batched:
        model = type(batched[0]).get_model_class()
        rows = dict(
            model._default_manager.filter(
                session_key__in={store.session_key for store in batched}, expire_date__gt=timezone.now()
            ).values_list("session_key", "session_data")
        )
    for store in stores:
        if not store.session_key:
            store._session_cache = {}
        elif _loads_like_db(store):
            data = rows.get(store.session_key)
            if data is None:
                # What SessionStore.load() does for a missing or expired session.
                store._session_key = None
                store._session_cache = {}
            else:
                store._session_cache = store.decode(data)
        else:
            store._session_cache = store.load()


def _loads_like_db(store: Any) -> bool:
    cls = type(store)
    return (
        isinstance(store, db_sessions.SessionStore)
        and cls.load is db_sessions.SessionStore.load
        and getattr(cls, "_get_session_from_db", None)
        is getattr(db_sessions.SessionStore, "_get_session_from_db", None)
    )


def _session_users(stores: list[Any]) -> list[Any]:
    """Return each session's user or None, one query for all users of ``ModelBackend``-style backends."""
    wanted: list[tuple[Any, Any] | None] = []
    bulk_ids: set[Any] = set()
    user_model = get_user_model()
    to_python = user_model._meta.pk.to_python
    # Read once per batch, not once per socket: settings go through a lazy object, and load_backend()
    # imports its path on every call.
    allowed = settings.AUTHENTICATION_BACKENDS
    backends: dict[str, Any] = {}
    for store in stores:
        try:
            user_id = to_python(store[SESSION_KEY])
            backend_path = store[BACKEND_SESSION_KEY]
        except (KeyError, SuspiciousOperation, ValueError, TypeError):
            wanted.append(None)
            continue
        if backend_path not in allowed:
            wanted.append(None)
            continue
        backend = backends.get(backend_path)
        if backend is None:
            backend = backends[backend_path] = load_backend(backend_path)
        wanted.append((backend, user_id))
        if type(backend).get_user is ModelBackend.get_user:
            bulk_ids.add(user_id)
    found = user_model._default_manager.in_bulk(bulk_ids) if bulk_ids else {}
    users: list[Any] = []
    for entry in wanted:
        if entry is None:
            users.append(None)
            continue
        backend, user_id = entry
        if type(backend).get_user is ModelBackend.get_user:
            user = found.get(user_id)
            users.append(user if user is not None and backend.user_can_authenticate(user) else None)
        else:
            users.append(backend.get_user(user_id))
    return users


def _hash_verified(store: Any, user: Any) -> bool:
    session_hash = store.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    # A session signed before a SECRET_KEY rotation stays valid through SECRET_KEY_FALLBACKS, as in Django.
    fallback_hashes = getattr(user, "get_session_auth_fallback_hash", lambda: ())()
    return any(constant_time_compare(session_hash, fallback) for fallback in fallback_hashes)


# Most handshakes authenticated in one database call: 500.
_authenticate_batched: Batcher[str | None, tuple[Any, Any]] = Batcher(authenticate_sessions, max_batch=500)
