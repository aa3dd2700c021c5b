"""Close sockets whose session or user stopped being valid without any signal saying so.

Deleting a session, logging out, deactivating or deleting a user, and
``set_password()`` send signals, and ``receivers.py`` closes the sockets
concerned at once (:func:`closed_by` tells which). These send none: a
session that expires, a session rewritten for another user without being
deleted, ``User.objects.filter(...).update()`` (deactivation, a new password
hash), a password assigned directly. Each
hub's sweep therefore re-checks all of its connected sockets
(:func:`recheck`), about every half heartbeat interval, :data:`SLICE` sockets
per call on the database thread: one sessions query and one users query per
slice (or per ``BATCH_SIZE`` sockets, if smaller). A slice costs a few
milliseconds of CPU; a whole sweep at 10,000 sockets about 0.3 s (0.6 s the
first time), which in one call held up every other call on channels' one
database thread of the process for as long.

A socket is closed with 4001 (log in again) when its session is gone,
expired, or now names another user or another auth hash, or when its user
was deleted or can no longer authenticate (inactive); with 4003 (reconnect)
when the user's session auth hash changed (a new password): the session that
changed it authenticates again, the others get 4001.

What the check can see depends on the session engine. The database engines
(``db``, ``cached_db`` and their subclasses) are read from the session table
in one query per batch; Django's cache engine with one ``get_many`` per batch;
any other engine (``signed_cookies``, ``file``, custom ones) loads each
session on its own, which for signed cookies is a signature and age check in
memory (there is nothing server-side to delete).
Token sockets have no session: their user is re-checked, and a token
socket closes with 4001 once the user's password changed since its token
was issued (the token carries a digest of the user's session auth hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.sessions.backends import cache as cache_sessions
from django.contrib.sessions.backends import db as db_sessions
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import metrics, protocol
from .batching import batches

if TYPE_CHECKING:
    from .api_types import User

logger = logging.getLogger("django_live_notify")

# (user key, session key or None for a token socket, auth hash the socket was opened with: the session's,
# or for a token socket the credentials digest its token carries)
Socket = tuple[str, str | None, str | None]

# Sockets re-checked per call on the database thread (about 7 ms of CPU): other database calls and the event loop
# get their turn between two slices.
SLICE = 250


@metrics.timed("sessions")
async def recheck(hub: Any) -> int:
    """Close the hub's sockets whose session or user is no longer valid; return how many.

    Errors are logged, never raised: the next sweep tries again.
    """
    connections = [connection for connections in hub.connections.values() for connection in connections]
    closed = 0
    for start in range(0, len(connections), SLICE):
        part = connections[start : start + SLICE]
        sockets = [(connection.user_key, connection.session_key, connection.auth_hash) for connection in part]
        try:
            codes = await database_sync_to_async(close_codes)(sockets)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Could not re-check the sessions of open sockets; retrying at next sweep", exc_info=True)
            return closed
        for connection, code in zip(part, codes, strict=True):
            if code is None or connection not in hub.connections.get(connection.user_key, ()):
                continue  # still valid, or gone while the queries ran
            closed += 1
            hub.stats["closed_signed_out"] += 1
            await hub.remove(connection)
            await connection.close_with(code)
    _forget_sessions_except({connection.session_key for connection in connections})
    return closed


def closed_by(connection: Any, session_key: str | None, auth_hash: str | None, revoked_at: float) -> bool:
    """Tell whether a close message's entry closes ``connection`` (see ``publish.close_message()``).

    A token socket closes when its token was issued until ``revoked_at`` (the
    entry revoked it); a session socket when it is of ``session_key`` (any,
    when None) and its auth hash is not ``auth_hash``.
    """
    issued_at = getattr(connection, "token_issued_at", None)
    if issued_at is not None:
        return bool(issued_at <= revoked_at)
    if session_key is not None and connection.session_key != session_key:
        return False
    return auth_hash is None or connection.auth_hash != auth_hash


def close_codes(sockets: list[Socket]) -> list[int | None]:
    """Return for each socket the code to close it with (4001, 4003), or None while it is still valid."""
    state = _State(sockets)
    return [state.close_code(socket) for socket in sockets]


class _State:
    """The sessions, backends and users of a set of sockets, read with as few queries as they allow.

    Users come from the user table in bulk, as ``ModelBackend.get_user()``
    would give them; a backend with a ``get_user()`` of its own is asked once
    per user, as at the handshake (see ``auth.py``).
    """

    def __init__(self, sockets: list[Socket]) -> None:
        # Imported here: the hub imports this module, and must stay importable before the app registry is ready.
        from django.contrib.auth.backends import ModelBackend

        from .tokens import credentials_digest

        self.credentials_digest = credentials_digest
        # A socket of each session: the cache keeps that socket's own strings where the session names the same.
        known = {session_key: (user_key, auth_hash) for user_key, session_key, auth_hash in sockets if session_key}
        self.sessions = session_logins(set(known), known)
        paths = {login.backend for login in self.sessions.values()}
        self.backends = {path: _backend(path) for path in paths}
        # Backends whose users come from their own get_user(), by path.
        self.asking = {
            path
            for path, backend in self.backends.items()
            if backend is not None and type(backend).get_user is not ModelBackend.get_user
        }
        user_model = get_user_model()
        # (backend path or None for the user table, user key) -> user
        self.users: dict[tuple[Any, str], Any] = {}
        bulk_keys: set[str] = set()
        for user_key, session_key, _hash in sockets:
            login = self.sessions.get(session_key or "")
            path = login.backend if login is not None else None
            if path not in self.asking:
                bulk_keys.add(user_key)
            elif (path, user_key) not in self.users:
                pk = user_model._meta.pk.to_python(user_key)
                self.users[path, user_key] = self.backends[path].get_user(pk)
        for batch in batches(bulk_keys):
            found = user_model._default_manager.in_bulk([user_model._meta.pk.to_python(key) for key in batch])
            self.users.update(((None, str(pk)), user) for pk, user in found.items())

    def close_code(self, socket: Socket) -> int | None:
        user_key, session_key, auth_hash = socket
        backend = path = None
        if session_key is not None:
            login = self.sessions.get(session_key)
            if login is None or login.user_key != user_key:
                return protocol.CLOSE_UNAUTHENTICATED
            if auth_hash is not None and not constant_time_compare(login.auth_hash, auth_hash):
                return protocol.CLOSE_UNAUTHENTICATED
            path = login.backend
            backend = self.backends.get(path)
            if backend is None:
                # The backend left AUTHENTICATION_BACKENDS: Django no longer accepts the session.
                return protocol.CLOSE_UNAUTHENTICATED
        if path in self.asking:
            user = self.users.get((path, user_key))
        else:
            user = self.users.get((None, user_key))
            can_authenticate = getattr(backend, "user_can_authenticate", None)
            if user is not None and not (
                can_authenticate(user) if can_authenticate is not None else getattr(user, "is_active", True)
            ):
                return protocol.CLOSE_UNAUTHENTICATED
        if user is None:
            return protocol.CLOSE_UNAUTHENTICATED
        if auth_hash is None or not hasattr(user, "get_session_auth_hash"):
            return None
        if session_key is None:
            # A token socket: its token is no longer good once the password changed.
            if not constant_time_compare(auth_hash, self.credentials_digest(user) or ""):
                return protocol.CLOSE_UNAUTHENTICATED
            return None
        if not _hash_matches(user, auth_hash):
            return protocol.CLOSE_CREDENTIALS_CHANGED
        return None


def _backend(path: Any) -> Any:
    if not isinstance(path, str) or path not in settings.AUTHENTICATION_BACKENDS:
        return None
    return load_backend(path)


def _hash_matches(user: User, auth_hash: str) -> bool:
    if constant_time_compare(auth_hash, user.get_session_auth_hash()):
        return True
    fallback_hashes = getattr(user, "get_session_auth_fallback_hash", lambda: ())()
    return any(constant_time_compare(auth_hash, fallback) for fallback in fallback_hashes)


class Login(NamedTuple):
    """What a re-check needs of a session: whom it logged in, through which backend, with which auth hash.

    ``digest``: of the session's data as stored, when it was read from the session table (b"" otherwise).
    """

    user_key: str | None
    backend: Any
    auth_hash: str
    digest: bytes = b""


# Backend paths by themselves: every session of a backend shares one string.
_paths: dict[str, str] = {}


def _login(data: dict[str, Any], socket: tuple[str, str | None] | None = None, digest: bytes = b"") -> Login:
    """Return the login ``data`` holds; equal strings are ``socket``'s own (user key, auth hash), not copies.

    Only the cached logins (the session table's) keep them past the re-check, so only they pass ``socket``.
    """
    user_id, backend = data.get(SESSION_KEY), data.get(BACKEND_SESSION_KEY)
    if isinstance(backend, str):
        backend = _paths.setdefault(backend, backend)
    user_key = None if user_id is None else str(user_id)
    auth_hash = str(data.get(HASH_SESSION_KEY, ""))
    if socket is not None:
        if user_key == socket[0]:
            user_key = socket[0]
        if auth_hash == socket[1]:
            auth_hash = socket[1]
    return Login(user_key, backend, auth_hash, digest)


# Session key -> its Login with the digest of its data as stored, from the previous re-checks: most sessions are
# unchanged between two sweeps, and decoding (a signature check) is most of a re-check's cost. About 150 bytes a
# session, its strings shared with a socket's (the decoded data and its stored text were 1,070). A sweep forgets
# the sessions of sockets no longer open.
_decoded: dict[str, Login] = {}


def _forget_sessions_except(session_keys: set[str | None]) -> None:
    for session_key in [key for key in _decoded if key not in session_keys]:
        _decoded.pop(session_key, None)


def session_store(session_key: str | None = None) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def session_logins(session_keys: set[str], known: dict[str, tuple[str, str | None]] | None = None) -> dict[str, Login]:
    """Return the login of each session that still exists, has not expired and holds data, by key.

    ``known``: session key -> (user key, auth hash) of a socket of that session, whose strings the cached logins
    reuse.
    """
    known = known or {}
    if not session_keys:
        return {}
    probe = session_store()
    found: dict[str, Login] = {}
    if isinstance(probe, db_sessions.SessionStore):
        # The session table is the truth for cached_db too: its cache may outlive a deleted row.
        model = type(probe).get_model_class()
        # The sockets' own key strings, not the rows' copies, go into the cache.
        keys = {session_key: session_key for session_key in session_keys}
        for batch in batches(session_keys):
            rows = model._default_manager.filter(session_key__in=batch, expire_date__gt=timezone.now())
            for row_key, encoded in rows.values_list("session_key", "session_data"):
                session_key = keys.get(row_key, row_key)
                digest = hashlib.blake2b(encoded.encode(), digest_size=16).digest()
                previous = _decoded.get(session_key)
                if previous is not None and previous.digest == digest:
                    found[session_key] = previous
                elif data := probe.decode(encoded):
                    login = _login(data, known.get(session_key), digest)
                    found[session_key] = _decoded[session_key] = login
        for session_key in session_keys - found.keys():
            _decoded.pop(session_key, None)
    elif isinstance(probe, cache_sessions.SessionStore) and type(probe).load is cache_sessions.SessionStore.load:
        prefix, cache = probe.cache_key_prefix, probe._cache  # type: ignore[attr-defined]
        for batch in batches(session_keys):
            cached = cache.get_many([prefix + session_key for session_key in batch])
            for cache_key, data in cached.items():
                if data:
                    found[cache_key[len(prefix) :]] = _login(data)
    else:
        for session_key in session_keys:
            if data := session_store(session_key).load():
                found[session_key] = _login(data)
    return found
