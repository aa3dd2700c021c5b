"""Property-based fuzz of protocol v1 over the real ASGI stack, of socket tokens and of the JSON API's queries.

A model of the protocol (docs/protocol.rst) predicts the exact answer to every
frame; hypothesis throws valid frames, random JSON, non-JSON text, binary
frames and oversized frames at user A's socket while user B's socket listens.
"""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from django_live_notify import notify, protocol
from django_live_notify.conf import live_settings
from django_live_notify.hub import stop_hubs
from django_live_notify.models import Notification
from tests.conftest import make_user, open_socket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

MAX_MESSAGE_SIZE = 2048
REPLAY_LIMIT = 3
LIVE_NOTIFY = {"MAX_MESSAGE_SIZE": MAX_MESSAGE_SIZE, "REPLAY_LIMIT": REPLAY_LIMIT, "MAX_MESSAGES_PER_SECOND": 0}
CLIENT_TYPES = ["heartbeat", "get_unread_count", "mark_read", "mark_all_read", "resume"]
# Server frame types, consumer method and ASGI names, near misses: none of them may do anything.
OTHER_TYPES = [
    "notification", "unread_count", "read", "heartbeat_ack", "resumed", "error", "subscribe", "",
    "websocket.receive", "websocket.connect", "websocket.disconnect", "websocket_disconnect", "dispatch",
    "handle_heartbeat", "handle_mark_all_read", "close_with", "send_frame", "__init__", "__class__",
    "Heartbeat", "MARK_ALL_READ", " heartbeat", "heartbeat ", "heartbeat\x00", "mark-read", "mark_all_read\n",
]  # fmt: skip
# Text frames that are not JSON objects, or JSON that only Python reads, or nearly valid frames.
BROKEN_TEXTS = [
    "", " ", "NaN", "Infinity", "-Infinity", "null", "true", "[]", "{", "}", "{}", '{"type"}',
    '{"type": "heartbeat"', "{'type': 'heartbeat'}", '{"type": "heartbeat"} trailing',
    '\ufeff{"type": "heartbeat"}', '{"type": "heartbeat",}', '{"type": heartbeat}', '{"type": "\\ud800"}',
    '{"type": "mark_all_read", "type": "heartbeat"}', '{"type": "mark_read", "id": 1e2}',
    '{"type": "mark_read", "id": 0x10}', '{"type": "resume", "last_id": 00}',
]  # fmt: skip
FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # failing examples are printed; nothing is written into the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- strategies

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=10**30, max_value=10**300).flatmap(lambda n: st.sampled_from([n, -n])),
    st.floats(),  # includes NaN and +-Infinity, which Python's json reads and writes
    st.text(max_size=20),
    st.sampled_from(["\u202egnp.exe", "<script>alert(1)</script>", "😀" * 3, "\x00", "\ufeff"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def frame_strategies(a_ids, b_ids, missing_id):
    """Return a strategy of client frames: (kind, payload) with kind "text" or "bytes"."""
    known_ids = st.sampled_from(a_ids + b_ids + [missing_id, 0])
    id_values = st.one_of(
        known_ids, json_values, known_ids.map(float), known_ids.map(str), known_ids.map(lambda i: -i)
    )
    types = st.one_of(
        st.sampled_from(CLIENT_TYPES),
        st.sampled_from(CLIENT_TYPES),
        st.sampled_from(OTHER_TYPES),
        st.text(max_size=16),
        json_values,
    )
    valid = st.one_of(
        st.just({"type": "heartbeat"}),
        st.just({"type": "get_unread_count"}),
        st.just({"type": "mark_all_read"}),
        st.builds(lambda i: {"type": "mark_read", "id": i}, known_ids),
        st.builds(lambda i: {"type": "mark_read", "id": i}, known_ids),
        st.builds(lambda i: {"type": "resume", "last_id": i}, known_ids),
        st.builds(lambda i: {"type": "resume", "last_id": i}, known_ids),
    )
    extras = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
    random_objects = st.builds(
        lambda extra, core: {**extra, **core},
        extras,
        st.one_of(
            st.fixed_dictionaries({"type": types}, optional={"id": id_values, "last_id": id_values}),
            st.fixed_dictionaries({}, optional={"id": id_values, "last_id": id_values}),
        ),
    )
    # A valid frame with random extra keys must still work: unknown keys are ignored.
    valid_with_extras = st.builds(lambda frame, extra: {**extra, **frame}, valid, extras)

    def as_json(values):
        return st.builds(lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only), values, st.booleans())

    broken_texts = st.one_of(
        st.text(max_size=60),
        st.sampled_from(BROKEN_TEXTS),
        # Deeply nested JSON that still fits the size limit; away from the depth where Python 3.11's parser stops,
        # which depends on the stack depth of the caller (the test and the server would disagree there).
        st.one_of(st.integers(1, 800), st.integers(1001, 1010)).map(
            lambda depth: '{"type": "heartbeat", "x": ' + "[" * depth + "]" * depth + "}"
        ),
        st.integers(1, 288).map(
            lambda depth: '{"type": "heartbeat", "x": ' + '{"x": ' * depth + "1" + "}" * (depth + 1)
        ),
        # A valid frame cut short anywhere.
        st.builds(lambda text, cut: text[: max(0, len(text) - cut)], as_json(valid), st.integers(1, 30)),
    )
    binary = st.one_of(
        st.binary(max_size=64),
        # A valid frame as a binary frame: refused, never acted on.
        st.builds(lambda value: json.dumps(value).encode(), valid),
    )
    text = st.one_of(
        as_json(valid), as_json(valid), as_json(valid), as_json(valid), as_json(valid), as_json(valid_with_extras),
        as_json(random_objects), as_json(random_objects), as_json(json_values), broken_texts,
    )  # fmt: skip
    frames = st.one_of(text.map(lambda t: ("text", t)), binary.map(lambda b: ("bytes", b)))

    def padded(frame, size, pad):
        """``frame`` padded with ``pad`` to about ``size`` bytes (JSON escapes may make it longer)."""
        text = json.dumps({**frame, "pad": ""}, ensure_ascii=False)
        missing = max(0, size - len(text.encode()))
        return json.dumps({**frame, "pad": pad * (missing // len(pad.encode()))}, ensure_ascii=False)

    # Around the limit, in bytes: multibyte characters make a frame too big in fewer characters.
    near_limit = st.one_of(
        st.builds(
            padded,
            valid,
            st.integers(MAX_MESSAGE_SIZE - 8, MAX_MESSAGE_SIZE + 64),
            st.sampled_from(["x", "é", "😀", "\u202e"]),
        ).map(lambda t: ("text", t)),
        st.binary(min_size=MAX_MESSAGE_SIZE - 2, max_size=MAX_MESSAGE_SIZE + 64).map(lambda b: ("bytes", b)),
    )
    return frames, near_limit


def frame_sequences(a_ids, b_ids, missing_id):
    """Lists of (kind, payload, daphne_style): random frames, then maybe one frame near the size limit."""
    frames, near_limit = frame_strategies(a_ids, b_ids, missing_id)
    with_style = st.tuples(frames, st.booleans()).map(lambda pair: (*pair[0], pair[1]))
    last = st.one_of(st.none(), st.none(), st.tuples(near_limit, st.booleans()).map(lambda p: (*p[0], p[1])))
    return st.builds(
        lambda body, tail: body + ([tail] if tail else []), st.lists(with_style, min_size=1, max_size=14), last
    )


# --------------------------------------------------------------------------- the model


def _is_id(value, allow_zero=False):
    return type(value) is int and (0 < value < 2**63 or (allow_zero and value == 0))


class Model:
    """What protocol v1 says user A's socket answers, given A's rows and which of them are unread."""

    def __init__(self, payloads):
        self.payloads = payloads  # id -> payload as the API returns it (is_read False)
        self.unread = set(payloads)

    def unread_count(self):
        return {"type": "unread_count", "count": len(self.unread)}

    def answer(self, kind, payload):
        """Return ("close", code) or ("frames", [expected frame or ("error", code)])."""
        if kind == "bytes":
            if len(payload) > MAX_MESSAGE_SIZE:
                return "close", protocol.CLOSE_TOO_BIG
            return "frames", [("error", "binary_frame")]
        if len(payload.encode()) > MAX_MESSAGE_SIZE:
            return "close", protocol.CLOSE_TOO_BIG
        try:
            frame = json.loads(payload)
        except (ValueError, RecursionError):
            frame = None
        if not isinstance(frame, dict):
            return "frames", [("error", "invalid_json")]
        kind = frame.get("type")
        if not isinstance(kind, str) or kind not in CLIENT_TYPES:
            return "frames", [("error", "unknown_type")]
        return "frames", getattr(self, kind)(frame)

    def heartbeat(self, frame):
        return [{"type": "heartbeat_ack"}]

    def get_unread_count(self, frame):
        return [self.unread_count()]

    def mark_read(self, frame):
        notification_id = frame.get("id")
        if not _is_id(notification_id):
            return [("error", "invalid_field")]
        if notification_id not in self.payloads:
            return [("error", "not_found")]
        if notification_id not in self.unread:
            return [self.unread_count()]
        self.unread.discard(notification_id)
        return [{"type": "read", "ids": [notification_id]}, self.unread_count()]

    def mark_all_read(self, frame):
        changed, self.unread = bool(self.unread), set()
        return ([{"type": "read", "all": True}] if changed else []) + [self.unread_count()]

    def resume(self, frame):
        last_id = frame.get("last_id")
        if not _is_id(last_id, allow_zero=True):
            return [("error", "invalid_field")]
        missed = sorted(pk for pk in self.payloads if pk > last_id)
        complete = len(missed) <= REPLAY_LIMIT
        missed = missed[-REPLAY_LIMIT:]
        frames = [
            {"type": "notification", "notification": {**self.payloads[pk], "is_read": pk not in self.unread}}
            for pk in missed
        ]
        return [*frames, {"type": "resumed", "count": len(missed), "complete": complete}, self.unread_count()]


def describe(outcome, expected):
    """Name an expected answer for hypothesis' statistics."""
    if outcome == "close":
        return f"close {expected}"
    first = expected[0]
    if isinstance(first, tuple):
        return f"error {first[1]}"
    if first["type"] == "resumed" or first["type"] == "notification":
        return f"resume: {len(expected) - 2} replayed, complete={expected[-2]['complete']}"
    return " + ".join(item["type"] for item in expected)


def receive_message(kind, payload, daphne_style):
    """Build the ASGI message a server hands the app: uvicorn sets one key, daphne sets both."""
    other = "bytes" if kind == "text" else "text"
    return {"type": "websocket.receive", kind: payload, **({other: None} if daphne_style else {})}


async def open_with_cookie(session_key):
    from channels.testing import WebsocketCommunicator

    from tests.asgi import application

    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={session_key}".encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_frame(communicator, marker):
    """Receive one text frame, which must not mention ``marker``; return it decoded."""
    message = await communicator.receive_output(3)
    assert message["type"] == "websocket.send", message
    assert message.get("bytes") is None, message
    assert marker not in message["text"], f"another user's data leaked: {message['text']}"
    return json.loads(message["text"])


def check_answer(frame, expected):
    if isinstance(expected, tuple):
        assert frame["type"] == "error", frame
        assert set(frame) == {"type", "code", "message"}, frame
        assert frame["code"] == expected[1], frame
        assert isinstance(frame["message"], str) and frame["message"], frame
    else:
        assert frame == expected


async def play(frames, keys, model, marker):
    """Send ``frames`` to A's socket; check every answer against the model; B's socket must hear nothing."""
    ana = await open_with_cookie(keys["ana"])
    bob = await open_with_cookie(keys["bob"])
    try:
        for kind, payload, daphne_style in frames:
            outcome, expected = model.answer(kind, payload)
            event(describe(outcome, expected))
            await ana.send_input(receive_message(kind, payload, daphne_style))
            if outcome == "close":
                message = await ana.receive_output(3)
                assert message["type"] == "websocket.close", message
                assert message["code"] == expected
                assert await ana.receive_nothing(0.05)
                break
            for item in expected:
                check_answer(await next_frame(ana, marker), item)
            # The connection was kept: it still answers.
            await ana.send_input(receive_message("text", '{"type": "heartbeat"}', daphne_style))
            assert await next_frame(ana, marker) == {"type": "heartbeat_ack"}
        assert await ana.receive_nothing(0.02)
        assert await bob.receive_nothing(0.02)
    finally:
        await ana.disconnect()
        await bob.disconnect()
        await stop_hubs()


def test_protocol_fuzz_never_crashes_leaks_or_changes_anything_by_mistake():
    ana, bob = make_user("ana"), make_user("bob")
    marker = f"BOB-SECRET-{uuid.uuid4().hex}"
    for index in range(5):
        notify(ana, title=f"ana {index}", message="é 😀 \u202e", data={"n": index})
    b_rows = [
        notify(bob, title=f"{marker} {index}", message=marker, url=f"/{marker}/", data={"m": marker}, sender=bob)
        for index in range(3)
    ]
    # Interleave the ids: B's rows sit between A's, so "after id N" has B's rows after it.
    notify(ana, title="ana late", sender=bob)
    payloads = {
        row.pk: json.loads(protocol.encode(row.to_payload()))
        for row in Notification.objects.filter(recipient=ana).select_related("sender")
    }
    a_ids, b_ids = sorted(payloads), [row.pk for row in b_rows]
    missing_id = max(a_ids + b_ids) + 1000
    keys = {"ana": session_cookie(ana), "bob": session_cookie(bob)}

    def text(**frame):
        return ("text", json.dumps(frame), False)

    def too_big(frame, pad):
        """``frame`` padded past the limit in bytes, though not in characters when ``pad`` is multibyte."""
        payload = json.dumps({**frame, "pad": pad * (MAX_MESSAGE_SIZE // len(pad.encode()))}, ensure_ascii=False)
        assert len(payload.encode()) > MAX_MESSAGE_SIZE
        return ("text", payload, True)

    exactly_the_limit = json.dumps({"type": "heartbeat", "pad": ""})
    exactly_the_limit = json.dumps({"type": "heartbeat", "pad": "x" * (MAX_MESSAGE_SIZE - len(exactly_the_limit))})

    @FUZZ_SETTINGS
    @given(frames=frame_sequences(a_ids, b_ids, missing_id))
    # Every id kind and every valid type, in order, whatever hypothesis draws.
    @example(
        frames=[
            *[text(type="mark_read", id=pk) for pk in (b_ids[0], missing_id, a_ids[0], a_ids[0], 2**63 - 1, 2**63)],
            *[text(type="resume", last_id=pk) for pk in (0, a_ids[1], b_ids[0], a_ids[-1], 2**63 - 1)],
            text(type="get_unread_count"),
            text(type="mark_all_read"),
            text(type="mark_all_read"),
            text(type="mark_read", id=a_ids[1]),
            ("text", exactly_the_limit, False),
        ]
    )
    # Frames that would change everything if they were obeyed.
    @example(
        frames=[
            ("bytes", json.dumps({"type": "mark_all_read"}).encode(), True),
            ("text", '{"type": "mark_all_read"', False),
            text(type="mark_all_read ", id=a_ids[0]),
            text(type=["mark_all_read"]),
            text(type="mark_read", id=[a_ids[0]]),
            text(type="mark_read", id=str(a_ids[0])),
            text(type="mark_read", id=float(a_ids[0])),
            text(type="mark_read", id=True),
            text(type="mark_read", ids=a_ids),
            too_big({"type": "mark_all_read"}, "😀"),
        ]
    )
    @example(frames=[text(type="resume", last_id=-1), too_big({"type": "mark_read", "id": a_ids[0]}, "é")])
    # Nested deeper than Python 3.11's parser goes, within the size limit: invalid_json, and the socket lives.
    @example(frames=[("text", '{"type": "heartbeat", "x": ' + "[" * 1010 + "]" * 1010 + "}", False)] * 2)
    @example(frames=[("bytes", b"\x00" * (MAX_MESSAGE_SIZE + 1), False)])
    def run(frames):
        Notification.objects.filter(recipient=ana).update(read_at=None)
        model = Model(payloads)
        asyncio.run(play(frames, keys, model, marker))
        # Only valid mark_read / mark_all_read changed anything, exactly as the model says.
        unread = set(Notification.objects.filter(recipient=ana, read_at__isnull=True).values_list("id", flat=True))
        assert unread == model.unread
        assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == len(b_ids)
        assert Notification.objects.count() == len(a_ids) + len(b_ids)

    with override_settings(LIVE_NOTIFY=LIVE_NOTIFY):
        run()


async def test_deeply_nested_json_answers_invalid_json_and_keeps_the_socket():
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    try:
        # Deep enough for RecursionError on every supported Python (3.13 allows more nesting than 3.11).
        text = '{"type": "heartbeat", "x": ' + "[" * 30000 + "]" * 30000 + "}"
        assert len(text.encode()) <= live_settings.MAX_MESSAGE_SIZE
        await socket.send_to(text_data=text)
        frame = json.loads(await socket.receive_from(2))
        assert frame["type"] == "error" and frame["code"] == "invalid_json"
        await socket.send_json_to({"type": "heartbeat"})
        assert json.loads(await socket.receive_from(2)) == {"type": "heartbeat_ack"}
    finally:
        await socket.disconnect()


# --------------------------------------------------------------------------- socket tokens


def token_mutations(token):
    """Strings near a valid token: one character changed, cut short, extended, parts swapped."""
    alphabet = "abcXYZ019-_.:=+/ é"
    return st.one_of(
        st.builds(
            lambda index, character: token[:index] + character + token[index + 1 :],
            st.integers(0, len(token) - 1),
            st.sampled_from(alphabet),
        ),
        st.integers(0, len(token) - 1).map(lambda length: token[:length]),
        st.text(alphabet, min_size=1, max_size=4).map(lambda extra: token + extra),
        st.text(alphabet, min_size=1, max_size=4).map(lambda extra: extra + token),
        st.just(token.upper()),
        st.just(token.lower()),
        st.just(" " + token),
        st.just(token.replace(".", ":")),
        st.just(".".join(reversed(token.split(".")))),
    )


async def token_close_code(candidate, how):
    """Connect from a foreign origin offering ``candidate`` as a token; return the close code (None if kept open)."""
    from urllib.parse import quote

    from channels.testing import WebsocketCommunicator

    from django_live_notify.tokens import SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX
    from tests.asgi import application

    path, subprotocols = "/ws/notifications/", None
    if how in ("query", "both"):
        path += "?token=" + quote(candidate, safe="")
    if how in ("subprotocol", "both"):
        subprotocols = [SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + candidate]
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"https://app.example.com")], subprotocols=subprotocols
    )
    try:
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "get_unread_count"})
        message = await communicator.receive_output(2)
        return message.get("code") if message["type"] == "websocket.close" else None
    finally:
        await communicator.disconnect()
        await stop_hubs()


def test_token_fuzz_only_the_exact_token_opens_a_socket():
    from django_live_notify.tokens import make_token

    ana, bob = make_user("ana"), make_user("bob")
    token, bobs_token = make_token(ana), make_token(bob)
    # Bob's signed payload with Ana's timestamp and signature, and the reverse.
    spliced = [
        ".".join([bobs_token.split(".")[0], *token.split(".")[1:]]),
        ".".join([token.split(".")[0], *bobs_token.split(".")[1:]]),
    ]
    assert asyncio.run(token_close_code(token, "subprotocol")) is None

    @FUZZ_SETTINGS
    @given(
        candidate=st.one_of(st.text(max_size=60), token_mutations(token), st.sampled_from(spliced)),
        how=st.sampled_from(["subprotocol", "query", "both"]),
    )
    def run(candidate, how):
        assume(candidate != token and candidate != bobs_token)
        assert asyncio.run(token_close_code(candidate, how)) == 4001

    run()


# --------------------------------------------------------------------------- HTTP query parameters

query_values = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        ["", "0", "1", "true", "false", "TRUE", " 1", "1 ", "+1", "01", "1e3", "٣", "²", "9" * 19, "9" * 40]
    ),
)


def test_api_list_query_fuzz_answers_json_and_only_the_users_rows():
    ana, bob = make_user("ana"), make_user("bob")
    marker = f"BOB-SECRET-{uuid.uuid4().hex}"
    for index in range(4):
        notify(ana, title=f"ana {index}", notification_type="ana-type" if index % 2 else "system")
        notify(bob, title=marker, notification_type="bob-type", message=marker)
    a_ids = set(Notification.objects.filter(recipient=ana).values_list("id", flat=True))
    client = Client()
    client.force_login(ana)

    @FUZZ_SETTINGS
    @given(
        params=st.dictionaries(
            st.one_of(
                st.sampled_from(["after", "unread", "type", "page", "user", "recipient", "user_id"]),
                st.text(max_size=6),
            ),
            st.one_of(query_values, st.sampled_from(["bob-type", "ana-type", "system"])),
            max_size=5,
        )
    )
    def run(params):
        response = client.get(reverse("live_notify:api_list"), params)
        assert response.status_code in (200, 400, 404), (params, response.status_code)
        assert response["Content-Type"] == "application/json"
        assert marker not in response.content.decode()
        body = response.json()
        if response.status_code == 200:
            assert {item["id"] for item in body["results"]} <= a_ids
            assert body["unread_count"] == len(a_ids)
        else:
            assert set(body) == {"error"} and body["error"]
        page = client.get(reverse("live_notify:list"), params)
        assert page.status_code == 200, params
        assert marker not in page.content.decode()
        assert "bob-type" not in page.content.decode() or "bob-type" in str(params)

    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 2}):
        run()
