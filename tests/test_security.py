"""Security: cross-site WebSocket hijacking on a real server, other users' rows, user text, anonymous access."""

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.template import RequestContext, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from django_live_notify import notify
from django_live_notify.models import Notification
from tests.conftest import make_user, open_socket, session_cookie
from tests.servers import ROOT, LiveDatabase, free_port, start_asgi_server, stop_process

# --------------------------------------------------------------------------- cross-site WebSocket hijacking

CREATE_USERS = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_live_notify import notify
ana = get_user_model().objects.create_user("ana", password="pw")
notify(ana, title="ana's")
keys = {}
for name in ("ana", "expired"):
    client = Client()
    client.force_login(ana)
    keys[name] = client.cookies["sessionid"].value
Session.objects.filter(session_key=keys["expired"]).update(expire_date=timezone.now() - timedelta(days=1))
print(json.dumps(keys))
"""


@pytest.fixture(scope="module")
def uvicorn_server(tmp_path_factory):
    """Start uvicorn on a database of its own with the in-memory layer; yield (port, session keys)."""
    database = LiveDatabase(tmp_path_factory.mktemp("security"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings_live",
        "LIVE_NOTIFY_TEST_DB": database.name,
        "LIVE_NOTIFY_TEST_REDIS": "",  # no Redis: one process, the in-memory layer
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout

    try:
        manage("migrate", "-v0")
        keys = json.loads(manage("shell", "-v0", "-c", CREATE_USERS).strip().splitlines()[-1])
        port = free_port()
        server = start_asgi_server("uvicorn", port, env)
        try:
            yield port, keys
        finally:
            stop_process(server)
    finally:
        database.drop()


async def real_socket(port, session_key=None, origin=None):
    headers = {"Cookie": f"sessionid={session_key}"} if session_key else {}
    if origin is not None:
        headers["Origin"] = origin
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notifications/", additional_headers=headers, compression=None, open_timeout=5
    )


def handshake_status(port, session_key, origin):
    """Return the HTTP status the handshake was refused with, or None when the socket opened and works."""

    async def scenario():
        try:
            socket = await real_socket(port, session_key, origin)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        try:
            await socket.send('{"type": "heartbeat"}')
            assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "heartbeat_ack"}
        finally:
            await socket.close()
        return None

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://evil.example",
        "http://evil.example:{port}",
        "http://127.0.0.1.evil.example:{port}",
        "http://evil.example/http://127.0.0.1:{port}",
        "null",  # sandboxed iframes and file: pages
        "127.0.0.1",  # no scheme: not a URL the validator can read
        "",
        # The same host is not the same origin: another port, another scheme, another name for it.
        "http://127.0.0.1:{other_port}",
        "http://127.0.0.1",
        "https://127.0.0.1:{port}",
        "http://localhost:{port}",
        "http://127.0.0.1:{port}/",
        "HTTP://127.0.0.1:{port}",
        # Trusted origins count with their exact scheme and port; a wildcard covers subdomains only.
        "http://app.example.com",
        "https://app.example.com:8443",
        "https://evil.app.example.com",
        "http://www.trusted.example",
        "https://trusted.example.evil.example",
        "https://eviltrusted.example",
    ],
)
def test_socket_from_a_foreign_origin_is_refused_at_handshake_even_with_a_valid_session(uvicorn_server, origin):
    port, keys = uvicorn_server
    origin = origin.format(port=port, other_port=port + 1 if port < 65535 else port - 1)
    assert handshake_status(port, keys["ana"], origin) == 403


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:{port}", "https://app.example.com", "https://www.trusted.example", "https://trusted.example"],
)
def test_socket_from_the_sites_own_origin_or_a_trusted_one_is_accepted(uvicorn_server, origin):
    port, keys = uvicorn_server
    assert handshake_status(port, keys["ana"], origin.format(port=port)) is None


def test_cookie_socket_without_an_origin_header_is_refused(uvicorn_server):
    """Browsers always send Origin on a WebSocket handshake: this only turns away non-browser clients."""
    port, keys = uvicorn_server
    assert handshake_status(port, keys["ana"], None) == 403


@pytest.mark.parametrize("cookie", [None, "not-a-session-key", "expired"])
def test_real_socket_without_a_valid_session_is_closed_with_4001(uvicorn_server, cookie):
    port, keys = uvicorn_server

    async def scenario():
        socket = await real_socket(port, keys.get(cookie, cookie), f"http://127.0.0.1:{port}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        return closed.value.rcvd.code

    assert asyncio.run(scenario()) == 4001


def http(port, method, path, session_key, origin=None, csrf=None):
    """Send one request to the real server; return (status, headers, body)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None
    )
    cookie = f"sessionid={session_key}"
    if csrf:
        cookie += f"; csrftoken={csrf}"
        request.add_header("X-CSRFToken", csrf)
    request.add_header("Cookie", cookie)
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


CSRF = "a" * 32  # any well-formed CSRF secret: the cookie and the header only have to match


@pytest.mark.parametrize("path", ["/notifications/api/read-all/", "/notifications/api/token/"])
def test_cross_site_post_is_refused_even_with_a_leaked_csrf_token(uvicorn_server, path):
    port, keys = uvicorn_server
    for origin, csrf in (("http://evil.example", None), ("http://evil.example", CSRF), (None, None)):
        status, headers, _body = http(port, "POST", path, keys["ana"], origin, csrf)
        assert status == 403, (origin, csrf)
        assert "Access-Control-Allow-Origin" not in headers
    status, _headers, body = http(port, "GET", "/notifications/api/unread-count/", keys["ana"])
    assert (status, json.loads(body)) == (200, {"count": 1})
    # The same request from the site itself passes the CSRF check and meets the view's own (JSON) check instead:
    # the refusals above were the CSRF check.
    status, headers, body = http(port, "POST", path, keys["expired"], f"http://127.0.0.1:{port}", CSRF)
    assert (status, json.loads(body)) == (403, {"error": "Authentication required."})
    # No CORS header: a page of another origin could not read a token even if its POST got through.
    assert "Access-Control-Allow-Origin" not in headers


def test_a_token_opens_a_socket_from_no_origin_or_an_allowed_one_and_a_junk_token_never_falls_back_to_the_cookie(
    uvicorn_server,
):
    port, keys = uvicorn_server
    status, _headers, body = http(
        port, "POST", "/notifications/api/token/", keys["ana"], f"http://127.0.0.1:{port}", CSRF
    )
    assert status == 200
    token = json.loads(body)["token"]

    async def open_with_token(origin):
        """Return None when the token socket opened and answered, else the handshake's status."""
        try:
            socket = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/notifications/",
                additional_headers={"Origin": origin} if origin else {},
                subprotocols=["live-notify.v1", f"live-notify.token.{token}"],
                compression=None,
            )
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        assert socket.subprotocol == "live-notify.v1"
        await socket.send('{"type": "get_unread_count"}')
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "unread_count"
        await socket.close()
        return None

    async def scenario():
        # A native client sends no Origin; a page must be one Django's CSRF check would let POST for the token.
        statuses = {
            origin: await open_with_token(origin)
            for origin in (None, f"http://127.0.0.1:{port}", "https://app.example.com", "http://evil.example")
        }
        # A client offers a junk token to skip the origin check and ride on the user's cookie:
        # the socket is anonymous, whatever cookie came with it.
        codes = []
        for query, subprotocols in (("?token=junk", None), ("?token=", None), ("", ["live-notify.token.junk"])):
            socket = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/notifications/{query}",
                additional_headers={"Cookie": f"sessionid={keys['ana']}"},
                subprotocols=subprotocols,
                compression=None,
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.send('{"type": "resume", "last_id": 0}')
                frame = await asyncio.wait_for(socket.recv(), 5)
                raise AssertionError(f"a hijacked socket answered {frame}")
            codes.append(closed.value.rcvd.code)
        return statuses, codes

    statuses, codes = asyncio.run(scenario())
    assert statuses == {
        None: None,
        f"http://127.0.0.1:{port}": None,
        "https://app.example.com": None,
        "http://evil.example": 403,
    }
    assert codes == [4001, 4001, 4001]


# --------------------------------------------------------------------------- other users' notifications


def build_world():
    """Ana and Bob with interleaved rows; Bob's carry a unique marker in every text field."""
    ana, bob = make_user("ana"), make_user("bob")
    marker = f"BOBSECRET{uuid.uuid4().hex}"
    bob_type = f"bobtype{uuid.uuid4().hex[:8]}"
    ana_rows, bob_rows = [], []
    for index in range(3):
        ana_rows.append(notify(ana, title=f"ana {index}", notification_type="system" if index else "ana-type"))
        bob_rows.append(
            notify(
                bob,
                title=f"{marker} title",
                message=f"{marker} message",
                url=f"/{marker}/",
                data={"secret": marker},
                notification_type=bob_type,
                sender=bob,
            )
        )
    deleted = notify(bob, title=marker)
    deleted_id = deleted.pk
    deleted.delete()
    return {
        "ana": ana,
        "bob": bob,
        "marker": marker,
        "bob_type": bob_type,
        "ana_ids": [row.pk for row in ana_rows],
        "bob_ids": [row.pk for row in bob_rows],
        # Ids Ana has no notification with: missing, deleted, past what a 64-bit column holds.
        "missing_ids": [deleted_id + 1000, deleted_id, 2**63 - 1, 2**63, 10**30],
    }


@pytest.fixture
def world(db):
    return build_world()


def client_of(user):
    client = Client()
    client.force_login(user)
    return client


def assert_bob_untouched(world):
    assert Notification.objects.filter(pk__in=world["bob_ids"], read_at__isnull=True).count() == len(world["bob_ids"])


@pytest.mark.parametrize(
    "params",
    [{}, {"unread": "1"}, {"page": "2"}, {"page": "99"}, {"type": "BOB"}, {"user": "BOB"}, {"recipient": "BOB"}],
)
def test_history_page_never_shows_other_users_rows(world, params):
    bob = world["bob"]
    params = {
        key: (world["bob_type"] if key == "type" else bob.pk) if value == "BOB" else value
        for key, value in params.items()
    }
    client = client_of(world["ana"])
    response = client.get(reverse("live_notify:list"), params)
    assert response.status_code == 200
    content = response.content.decode()
    assert world["marker"] not in content
    assert f'<option value="{world["bob_type"]}"' not in content  # the type filter offers Ana's types only
    for pk in world["bob_ids"]:
        assert f'data-notification-id="{pk}"' not in content
        assert reverse("live_notify:mark_read", args=[pk]) not in content
    assert {n.pk for n in response.context["notifications"]} <= set(world["ana_ids"])


def test_html_mark_read_of_a_foreign_id_answers_exactly_like_a_missing_one(world):
    client = client_of(world["ana"])
    answers = {
        pk: client.post(reverse("live_notify:mark_read", args=[pk]), {"next": "/notifications/"})
        for pk in world["bob_ids"] + world["missing_ids"]
    }
    assert {(response.status_code, response.content) for response in answers.values()} == {
        (404, answers[world["missing_ids"][0]].content)
    }
    assert_bob_untouched(world)


def test_html_mark_all_read_changes_only_the_users_rows(world):
    response = client_of(world["ana"]).post(reverse("live_notify:mark_all_read"))
    assert response.status_code == 302
    assert Notification.objects.filter(pk__in=world["ana_ids"], read_at__isnull=True).count() == 0
    assert_bob_untouched(world)


def api_list_params(world):
    bob_ids, ana_ids = world["bob_ids"], world["ana_ids"]
    afters = [None, 0, bob_ids[0], ana_ids[0], max(bob_ids)]
    for after in afters:
        for unread in (None, "1", "0"):
            for notification_type in (None, world["bob_type"], "system"):
                for page in (None, "1", "2"):
                    params = {"after": after, "unread": unread, "type": notification_type, "page": page}
                    yield {key: value for key, value in params.items() if value is not None}


def test_api_list_never_returns_other_users_rows_whatever_the_filters(world, settings):
    settings.LIVE_NOTIFY = {"PAGE_SIZE": 2}
    client = client_of(world["ana"])
    ana_rows = {row.pk: row for row in Notification.objects.filter(recipient=world["ana"])}
    for params in api_list_params(world):
        response = client.get(reverse("live_notify:api_list"), params)
        assert world["marker"] not in response.content.decode(), params
        body = response.json()
        # What Ana's rows alone give: the count never counts Bob's.
        expected = [
            pk
            for pk, row in ana_rows.items()
            if pk > int(params.get("after", 0))
            and (params.get("unread") != "1" or not row.is_read)
            and row.notification_type == params.get("type", row.notification_type)
        ]
        if response.status_code == 404:
            assert int(params["page"]) > 1 and len(expected) <= 2, params
            continue
        assert response.status_code == 200, (params, body)
        assert body["count"] == len(expected), params
        assert {item["id"] for item in body["results"]} <= set(expected), params
        assert body["unread_count"] == 3
    # Filtering on a type only Bob has answers exactly like a type nobody has.
    for page in ("1", "2"):
        foreign = client.get(reverse("live_notify:api_list"), {"type": world["bob_type"], "page": page})
        missing = client.get(reverse("live_notify:api_list"), {"type": "nobody-has-it", "page": page})
        assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)


def test_api_unread_count_counts_only_the_users_rows(world):
    response = client_of(world["ana"]).get(reverse("live_notify:api_unread_count"), {"user": world["bob"].pk})
    assert response.json() == {"count": 3}


def test_api_mark_read_of_a_foreign_id_answers_exactly_like_a_missing_one(world):
    client = client_of(world["ana"])
    answers = [
        client.post(reverse("live_notify:api_mark_read", args=[pk])) for pk in world["bob_ids"] + world["missing_ids"]
    ]
    assert {(r.status_code, r["Content-Type"], r.content) for r in answers} == {
        (404, "application/json", b'{"error": "Not found."}')
    }
    assert_bob_untouched(world)


def test_api_mark_all_read_changes_only_the_users_rows(world):
    response = client_of(world["ana"]).post(reverse("live_notify:api_mark_all_read"), {"user": world["bob"].pk})
    assert response.json() == {"marked": 3, "unread_count": 0}
    assert_bob_untouched(world)


async def frames_until(communicator, last_type, marker):
    """Receive frames up to one of ``last_type``; none may carry ``marker``."""
    frames = []
    while not frames or frames[-1]["type"] != last_type:
        text = await communicator.receive_from(2)
        assert marker not in text, text
        frames.append(json.loads(text))
    return frames


@pytest.mark.django_db(transaction=True)
async def test_socket_never_sees_or_changes_other_users_rows():
    world = await sync_to_async(build_world)()
    marker = world["marker"]
    ana_socket, bob_socket = await open_socket(world["ana"]), await open_socket(world["bob"])
    try:
        # mark_read: a foreign id answers exactly like missing ones, extra keys naming Bob change nothing.
        answers = []
        for pk in world["bob_ids"] + world["missing_ids"][:3]:
            for extra in ({}, {"user": world["bob"].pk, "user_id": world["bob"].pk, "recipient": "bob"}):
                await ana_socket.send_json_to({"type": "mark_read", "id": pk, **extra})
                answers.append(await ana_socket.receive_from(2))
        assert set(answers) == {'{"type":"error","code":"not_found","message":"No such notification."}'}
        # resume replays Ana's rows only, from any point, even from one of Bob's ids.
        for last_id in [0, *world["bob_ids"], world["ana_ids"][0]]:
            await ana_socket.send_json_to({"type": "resume", "last_id": last_id, "user_id": world["bob"].pk})
            frames = await frames_until(ana_socket, "unread_count", marker)
            replayed = [frame["notification"]["id"] for frame in frames if frame["type"] == "notification"]
            assert replayed == [pk for pk in world["ana_ids"] if pk > last_id]
            assert frames[-2:] == [
                {"type": "resumed", "count": len(replayed), "complete": True},
                {"type": "unread_count", "count": 3},
            ]
        await ana_socket.send_json_to({"type": "get_unread_count", "user_id": world["bob"].pk})
        assert await frames_until(ana_socket, "unread_count", marker) == [{"type": "unread_count", "count": 3}]
        await ana_socket.send_json_to({"type": "mark_all_read", "user_id": world["bob"].pk})
        assert await frames_until(ana_socket, "unread_count", marker) == [
            {"type": "read", "all": True},
            {"type": "unread_count", "count": 0},
        ]
        # Bob's new notification reaches Bob only.
        await sync_to_async(notify)(world["bob"], title=f"{marker} live")
        assert marker in (await bob_socket.receive_from(2))
        assert (await bob_socket.receive_json_from(2))["type"] == "unread_count"
        assert await ana_socket.receive_nothing(0.2)
        assert await bob_socket.receive_nothing(0.1)  # nothing of Ana's actions reached Bob
        unread_of_bob = await sync_to_async(
            lambda: Notification.objects.filter(recipient=world["bob"], read_at__isnull=True).count()
        )()
        assert unread_of_bob == len(world["bob_ids"]) + 1
    finally:
        await ana_socket.disconnect()
        await bob_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_resume_frame_cannot_switch_off_recovery_for_the_users_other_tabs():
    from django.test import override_settings

    ana = await sync_to_async(make_user)("ana")
    with override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 0.2, "IDLE_TIMEOUT": 30}):
        victim, claimer = await open_socket(ana), await open_socket(ana)
        try:
            await asyncio.sleep(0.3)  # the first sweep sets its watermark
            await claimer.send_json_to({"type": "resume", "last_id": 2**63 - 1})
            assert (await claimer.receive_json_from(2))["type"] == "resumed"
            assert (await claimer.receive_json_from(2))["type"] == "unread_count"
            # Stored without a live send (as when a process dies after the commit): the sweep must send it.
            row = await sync_to_async(Notification.objects.create)(recipient=ana, title="lost send")
            assert not await victim.receive_nothing(2), "the recovery sweep never sent the lost row"
            assert (await victim.receive_json_from(1))["notification"]["id"] == row.pk
        finally:
            await victim.disconnect()
            await claimer.disconnect()


# --------------------------------------------------------------------------- socket tokens


async def token_socket(token, cookie_user=None, origin=b"https://app.example.com"):
    """Open a socket offering ``token`` as a subprotocol from a trusted origin, with another user's cookie if given."""
    from channels.testing import WebsocketCommunicator

    from django_live_notify.tokens import SUBPROTOCOL
    from tests.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", origin)]
    if cookie_user is not None:
        key = await sync_to_async(session_cookie)(cookie_user)
        headers.append((b"cookie", f"sessionid={key}".encode()))
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", headers=headers, subprotocols=[SUBPROTOCOL, f"live-notify.token.{token}"]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_a_token_socket_is_the_tokens_user_whatever_cookie_comes_with_it():
    from django_live_notify.tokens import make_token

    world = await sync_to_async(build_world)()
    token = await sync_to_async(make_token)(world["ana"])
    socket = await token_socket(token, cookie_user=world["bob"])
    try:
        await socket.send_json_to({"type": "resume", "last_id": 0})
        frames = await frames_until(socket, "unread_count", world["marker"])
        assert [f["notification"]["id"] for f in frames if f["type"] == "notification"] == world["ana_ids"]
        await socket.send_json_to({"type": "mark_read", "id": world["bob_ids"][0]})
        assert (await socket.receive_json_from(2))["code"] == "not_found"
        await sync_to_async(notify)(world["bob"], title=world["marker"])
        assert await socket.receive_nothing(0.2)
    finally:
        await socket.disconnect()
    await sync_to_async(assert_bob_untouched)(world)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["deactivated", "password_changed", "deleted"])
async def test_a_token_minted_before_the_user_lost_access_cannot_open_a_socket(kind):
    from django_live_notify.tokens import make_token

    ana = await sync_to_async(make_user)("ana")
    token = await sync_to_async(make_token)(ana)

    def revoke():
        if kind == "deactivated":
            ana.is_active = False
            ana.save()
        elif kind == "password_changed":
            ana.set_password("changed after the token was minted")
            ana.save()
        else:
            ana.delete()

    await sync_to_async(revoke)()
    socket = await token_socket(token)
    try:
        await socket.send_json_to({"type": "heartbeat"})
        message = await socket.receive_output(2)
        assert message["type"] == "websocket.close" and message["code"] == 4001, message
    finally:
        await socket.disconnect()


# --------------------------------------------------------------------------- user text

ATTACK_TEXT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</script><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    "\u202eexe.fdp\u202c and \u200f\u2067 bidi controls",
    "{{ request }}{% debug %}",  # template syntax in data is text, never rendered
    "&lt;script&gt; already escaped &amp;",
    '<a href="javascript:alert(1)">x</a>',
]
ATTACK_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\r\nscript:alert(1)",
    "javascript\t:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    '"><script>alert(1)</script>',
    'https://ok.example/" onmouseover="alert(1)',
    "\u202ejavascript:alert(1)",
]
SAFE_SCHEMES = {"", "http", "https"}
# An https URL notify() accepts that breaks out of a quoted attribute if not escaped.
QUOTING_URL = 'https://ok.example/" onmouseover="alert(1)'


class PageParser(HTMLParser):
    """Collect what a browser would act on: elements, attributes, script bodies, text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.scripts = []
        self.text = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._script = (dict(attrs), [])

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)
        else:
            self.text.append(data)


def url_scheme(url):
    """The scheme a browser reads from an attribute value (WHATWG URL: trim C0 and space, drop tabs/newlines)."""
    cleaned = url.strip("".join(chr(code) for code in range(33)))
    cleaned = "".join(character for character in cleaned if character not in "\t\n\r")
    scheme, colon, _rest = cleaned.partition(":")
    if not colon or not scheme or not scheme[0].isascii() or not scheme[0].isalpha():
        return ""
    if not all(character.isascii() and (character.isalnum() or character in "+-.") for character in scheme):
        return ""
    return scheme.lower()


def check_page(html):
    """Assert that ``html`` runs no injected script; return its parser."""
    page = PageParser()
    page.feed(html)
    page.close()
    assert "<script>alert" not in html.lower()
    assert 'href="javascript:' not in html.lower()
    for tag, attrs in page.elements:
        assert tag not in ("img", "iframe", "object", "embed"), (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert url_scheme(value or "") in SAFE_SCHEMES, (tag, attrs)
    for attrs, body in page.scripts:
        # Only the app's own scripts: the JSON config and the static client.
        if attrs.get("type") == "application/json":
            json.loads(body)
        else:
            assert attrs.get("src", "").startswith("/static/django_live_notify/") and not body.strip(), (attrs, body)
    return page


def config_from(page):
    (body,) = [body for attrs, body in page.scripts if attrs.get("id") == "live-notify-config"]
    return json.loads(body)


def with_stored_url(row, url):
    """Give ``row`` ``url`` in the database, past notify()'s check: a row written before that check existed."""
    Notification.objects.filter(pk=row.pk).update(url=url)
    row.url = url
    return row


@pytest.mark.parametrize("url", ATTACK_URLS)
def test_notify_refuses_exactly_the_urls_a_browser_would_not_treat_as_relative_or_http(db, url):
    ana = make_user("ana")
    if url_scheme(url) in SAFE_SCHEMES:
        assert notify(ana, title="t", url=url).url == url
    else:
        with pytest.raises(ValueError, match="url must be relative or http"):
            notify(ana, title="t", url=url)
        assert not Notification.objects.exists()


@pytest.fixture
def attacked(db):
    """Ana's notifications with attack strings in every text field, sent by users with attack-string names.

    The unsafe URLs are stored past notify(), which refuses them: the pages must not link old rows either.
    """
    ana = make_user("ana")
    rows = []
    for index, text in enumerate(ATTACK_TEXT):
        sender = make_user(f"sender{index}", first_name=text[:150], last_name="")
        url = ATTACK_URLS[index % len(ATTACK_URLS)]
        row = notify(
            ana, title=text, message=text + "\nline two", sender=sender, notification_type=text[:64], data={"k": text}
        )
        rows.append(with_stored_url(row, url))
    for index, url in enumerate(ATTACK_URLS):
        rows.append(with_stored_url(notify(ana, title=f"url {index}"), url))
    return ana, rows


def test_history_page_escapes_every_attack_string(attacked, settings):
    settings.LIVE_NOTIFY = {"PAGE_SIZE": 100}
    ana, _rows = attacked
    query = {"next": ATTACK_TEXT[1], "type": "", ATTACK_TEXT[0]: ATTACK_TEXT[3]}
    html = client_of(ana).get(reverse("live_notify:list"), query).content.decode()
    page = check_page(html)
    text = "".join(page.text)
    for attack in ATTACK_TEXT:
        assert attack in text, attack  # shown as the very text, neither lost nor double-escaped
    options = [attrs.get("value") for tag, attrs in page.elements if tag == "option"]
    assert set(options) >= {attack[:64] for attack in ATTACK_TEXT}
    links = {attrs["href"] for tag, attrs in page.elements if tag == "a" and "href" in attrs}
    assert 'https://ok.example/" onmouseover="alert(1)' in links  # an http(s) URL stays a link, quoted
    assert config_from(page)["url"] == "/ws/notifications/"


@pytest.mark.parametrize("ws_url", ATTACK_TEXT + ATTACK_URLS)
def test_live_notifications_tag_escapes_and_round_trips_its_config(attacked, ws_url):
    ana, _rows = attacked
    request = RequestFactory().get("/somewhere/", {"q": ATTACK_TEXT[3]})
    request.user = ana
    template = Template("{% load live_notify %}{% live_notifications ws_url=url %}{% live_notify_badge %}")
    html = template.render(RequestContext(request, {"request": request, "url": ws_url}))
    page = check_page(html)
    config = config_from(page)
    assert config["url"] == ws_url
    assert config["unreadCount"] == len(ATTACK_TEXT) + len(ATTACK_URLS)


def test_api_and_socket_return_attack_strings_exactly(attacked):
    ana, rows = attacked
    response = client_of(ana).get(reverse("live_notify:api_list"), {"after": 0, "page": 1})
    assert response["Content-Type"] == "application/json"
    by_id = {item["id"]: item for item in response.json()["results"]}
    for row in rows[: len(ATTACK_TEXT)]:
        item = by_id[row.pk]
        row.refresh_from_db()
        assert item["title"] == row.title
        assert item["message"] == row.message
        assert item["url"] == row.url  # stored and served as given; the templates decide what to link
        assert item["notification_type"] == row.notification_type
        assert item["data"] == row.data
        assert item["sender"]["name"] == row.sender.first_name


@pytest.mark.django_db(transaction=True)
async def test_socket_frames_carry_attack_strings_exactly():
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    try:
        for attack in ATTACK_TEXT:
            await sync_to_async(notify)(ana, title=attack, message=attack, url=QUOTING_URL, data={attack: attack})
            frame = json.loads(await socket.receive_from(2))
            payload = frame["notification"]
            assert (payload["title"], payload["message"], payload["url"], payload["data"]) == (
                attack,
                attack,
                QUOTING_URL,
                {attack: attack},
            )
            assert (await socket.receive_json_from(2))["type"] == "unread_count"
    finally:
        await socket.disconnect()


# --------------------------------------------------------------------------- anonymous and invalid sessions


def invalid_session(kind, user):
    """Return a session cookie value that must count as anonymous, or None for no cookie at all."""
    if kind == "none":
        return None
    if kind == "garbage":
        return "x" * 32
    key = session_cookie(user)
    if kind == "expired":
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    elif kind == "deleted":
        Session.objects.filter(session_key=key).delete()
    elif kind == "deactivated":
        user.is_active = False
        user.save()
    elif kind == "password_changed":
        user.set_password("new password")
        user.save()
    return key


INVALID_SESSIONS = ["none", "garbage", "expired", "deleted", "deactivated", "password_changed"]


def anonymous_client(key):
    client = Client()
    if key is not None:
        client.cookies["sessionid"] = key
    return client


@pytest.mark.parametrize("kind", INVALID_SESSIONS)
def test_html_views_redirect_anonymous_and_invalid_sessions_to_login(db, kind):
    ana = make_user("ana")
    row = notify(ana, title="T")
    client = anonymous_client(invalid_session(kind, ana))
    for method, url in (
        ("get", reverse("live_notify:list")),
        ("post", reverse("live_notify:mark_read", args=[row.pk])),
        ("post", reverse("live_notify:mark_all_read")),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"] == f"/accounts/login/?next={url}"
    row.refresh_from_db()
    assert not row.is_read


@pytest.mark.parametrize("kind", INVALID_SESSIONS)
def test_api_answers_anonymous_and_invalid_sessions_with_403_json(db, kind):
    ana = make_user("ana")
    row = notify(ana, title="T")
    client = anonymous_client(invalid_session(kind, ana))
    for method, url in (
        ("get", reverse("live_notify:api_list")),
        ("get", reverse("live_notify:api_unread_count")),
        ("post", reverse("live_notify:api_mark_read", args=[row.pk])),
        ("post", reverse("live_notify:api_mark_all_read")),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": "Authentication required."}
    row.refresh_from_db()
    assert not row.is_read


def test_anonymous_cross_site_post_gets_the_csrf_refusal_first(db):
    ana = make_user("ana")
    row = notify(ana, title="T")
    client = Client(enforce_csrf_checks=True)
    for url in (reverse("live_notify:api_mark_all_read"), reverse("live_notify:mark_all_read")):
        response = client.post(url, headers={"Origin": "http://evil.example"})
        assert response.status_code == 403
        assert b"CSRF" in response.content
    row.refresh_from_db()
    assert not row.is_read


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", INVALID_SESSIONS)
async def test_socket_of_anonymous_and_invalid_sessions_is_closed_with_4001_and_ignored(kind):
    from channels.testing import WebsocketCommunicator

    from tests.asgi import application

    ana = await sync_to_async(make_user)("ana")
    row = await sync_to_async(notify)(ana, title="T")
    key = await sync_to_async(invalid_session)(kind, ana)
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if key is not None:
        headers.append((b"cookie", f"sessionid={key}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(2)
    assert message["type"] == "websocket.close" and message["code"] == 4001
    # Frames after the close do nothing and answer nothing.
    for frame in ({"type": "mark_all_read"}, {"type": "resume", "last_id": 0}, {"type": "heartbeat"}):
        await communicator.send_json_to(frame)
    assert await communicator.receive_nothing(0.2)
    await sync_to_async(notify)(ana, title="not for an anonymous socket")
    assert await communicator.receive_nothing(0.2)
    await communicator.disconnect()
    assert await sync_to_async(lambda: Notification.objects.get(pk=row.pk).read_at)() is None


def test_template_tags_render_nothing_for_anonymous_users(db):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    template = Template("{% load live_notify %}{% live_notifications %}{% live_notify_badge %}")
    assert template.render(RequestContext(request, {"request": request})) == ""
