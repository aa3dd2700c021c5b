"""SocketAuthMiddleware gives what channels' AuthMiddlewareStack gives, with batched lookups."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection
from django.test import Client, override_settings

from django_live_notify.auth import SocketAuthMiddleware
from django_live_notify.tokens import TOKEN_SUBPROTOCOL_PREFIX, make_token
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


async def scope_after(stack, cookie=None, subprotocols=()):
    """Run ``stack`` around an app that records the scope it was given; return that scope."""
    seen = {}

    async def app(scope, receive, send):
        user = scope["user"]
        seen.update(scope, user_pk=getattr(user, "pk", None), authenticated=user.is_authenticated)
        seen["session_key"] = scope["session"].session_key
        seen["auth_hash"] = scope["session"].get(HASH_SESSION_KEY)

    headers = [(b"cookie", cookie.encode())] if cookie is not None else []
    scope = {"type": "websocket", "path": "/ws/notifications/", "headers": headers, "subprotocols": list(subprotocols)}
    await stack(app)(scope, None, None)
    return seen


def login(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def both(cookie=None, subprotocols=()):
    ours = await scope_after(SocketAuthMiddleware, cookie, subprotocols)
    theirs = await scope_after(AuthMiddlewareStack, cookie, subprotocols)
    return ours, theirs


def same_identity(ours, theirs):
    keys = ("user_pk", "authenticated", "session_key", "auth_hash")
    assert {key: ours[key] for key in keys} == {key: theirs[key] for key in keys}
    assert ours["cookies"] == theirs["cookies"]


async def test_a_logged_in_session_gives_its_user_like_channels():
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    ours, theirs = await both(f"sessionid={key}; other=1")
    same_identity(ours, theirs)
    assert ours["user_pk"] == ana.pk and ours["session_key"] == key
    assert ours["cookies"] == {"sessionid": key, "other": "1"}


@pytest.mark.parametrize(
    "cookie",
    [None, "", "sessionid=", "sessionid=short", "sessionid=" + "x" * 32, "sessionid=../../etc", "other=1"],
    ids=["no-header", "empty", "empty-key", "short-key", "unknown-key", "odd-key", "no-session-cookie"],
)
async def test_no_valid_session_is_anonymous_like_channels(cookie):
    ours, theirs = await both(cookie)
    same_identity(ours, theirs)
    assert not ours["authenticated"] and ours["session_key"] is None


async def test_an_expired_session_is_anonymous():
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    await Session.objects.filter(session_key=key).aupdate(expire_date="2000-01-01T00:00:00Z")
    ours, theirs = await both(f"sessionid={key}")
    same_identity(ours, theirs)
    assert not ours["authenticated"]


async def test_an_inactive_user_is_anonymous():
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    ana.is_active = False
    await ana.asave()
    ours, theirs = await both(f"sessionid={key}")
    same_identity(ours, theirs)
    assert not ours["authenticated"]


async def test_a_changed_password_makes_the_session_anonymous_and_flushes_it():
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    ana.set_password("new password")
    await ana.asave()
    ours = await scope_after(SocketAuthMiddleware, f"sessionid={key}")
    assert not ours["authenticated"]
    # Flushed like channels and Django do: the stale session is gone.
    assert not await Session.objects.filter(session_key=key).aexists()


async def test_a_session_signed_before_a_key_rotation_stays_valid_like_django(settings):
    ana = await sync_to_async(make_user)("ana")
    old_key = settings.SECRET_KEY
    key = await sync_to_async(login)(ana)
    with override_settings(SECRET_KEY="a-new-secret-key-" + "n" * 40, SECRET_KEY_FALLBACKS=[old_key]):
        ours = await scope_after(SocketAuthMiddleware, f"sessionid={key}")
    assert ours["user_pk"] == ana.pk


async def test_a_backend_no_longer_configured_is_anonymous(settings):
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    settings.AUTHENTICATION_BACKENDS = ["tests.testapp.backends.TaggingBackend"]
    ours, theirs = await both(f"sessionid={key}")
    same_identity(ours, theirs)
    assert not ours["authenticated"]


async def test_a_backend_with_its_own_get_user_is_asked(settings):
    ana = await sync_to_async(make_user)("ana")
    settings.AUTHENTICATION_BACKENDS = ["tests.testapp.backends.TaggingBackend"]
    client = Client()
    await sync_to_async(client.force_login)(ana, backend="tests.testapp.backends.TaggingBackend")
    key = client.cookies["sessionid"].value
    ours, theirs = await both(f"sessionid={key}")
    assert ours["user_pk"] == theirs["user_pk"] == ana.pk
    assert ours["user"].loaded_by == "TaggingBackend"


@pytest.mark.parametrize(
    "engine", ["django.contrib.sessions.backends.cached_db", "django.contrib.sessions.backends.signed_cookies"]
)
async def test_other_session_engines_load_their_own_way(engine, settings):
    settings.SESSION_ENGINE = engine
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)
    ours, theirs = await both(f"sessionid={key}")
    same_identity(ours, theirs)
    assert ours["user_pk"] == ana.pk


async def test_a_token_socket_skips_the_session():
    ana = await sync_to_async(make_user)("ana")
    token = await sync_to_async(make_token)(ana)
    ours = await scope_after(SocketAuthMiddleware, None, [TOKEN_SUBPROTOCOL_PREFIX + token])
    assert ours["user_pk"] == ana.pk and ours["session_key"] is None


async def test_concurrent_handshakes_share_a_few_queries(count_sql):
    users = [await sync_to_async(make_user)(f"u{i}") for i in range(60)]
    keys = [await sync_to_async(login)(user) for user in users]
    executed = count_sql()  # every thread's SQL, channels' database thread included
    scopes = await asyncio.gather(*(scope_after(SocketAuthMiddleware, f"sessionid={key}") for key in keys))
    assert [scope["user_pk"] for scope in scopes] == [user.pk for user in users]
    # One session query and one user query per batch: the first handshake goes alone, the rest wait together.
    assert len(executed) <= 4, executed
    assert len(executed) % 2 == 0


async def test_a_failing_lookup_fails_its_batch_and_the_next_batch_works():
    ana = await sync_to_async(make_user)("ana")
    key = await sync_to_async(login)(ana)

    def rename(old, new):
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")

    await sync_to_async(rename)("django_session", "django_session_away")
    try:
        with pytest.raises(DatabaseError):
            await scope_after(SocketAuthMiddleware, f"sessionid={key}")
    finally:
        await sync_to_async(rename)("django_session_away", "django_session")
    assert (await scope_after(SocketAuthMiddleware, f"sessionid={key}"))["user_pk"] == ana.pk
