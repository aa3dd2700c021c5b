"""Budgets per user: frames per second across all of a user's sockets, and the rows their resumes replay."""

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import override_settings

from django_live_notify import budgets, notify
from django_live_notify.budgets import ABUSIVE_WINDOWS
from django_live_notify.conf import DEFAULTS
from django_live_notify.hub import get_hub
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket
from tests.servers import AsgiServer, live_database_in, live_env, manage, report

pytestmark = pytest.mark.django_db(transaction=True)


async def outputs_within(socket, seconds):
    """Return every message the application sends within ``seconds``; unlike receive_from(), never cancel it."""
    messages = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if await socket.receive_nothing(left):
            break
        messages.append(await socket.receive_output(1))
    return messages


async def frames_within(socket, seconds):
    """Return every frame that arrives within ``seconds``, parsed; fail on a close."""
    messages = await outputs_within(socket, seconds)
    assert all(message["type"] == "websocket.send" for message in messages), messages
    return [json.loads(message["text"]) for message in messages]


class Clock:
    """The budgets' clock, moved on by the test instead of sleeping through one-second windows."""

    def __init__(self):
        self.now = time.monotonic()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(budgets, "_now", clock)
    return clock


async def settle(*sockets):
    """Wait until the consumers have taken every frame sent to ``sockets`` (and counted it in their budget)."""
    deadline = time.monotonic() + 5
    while any(not socket.input_queue.empty() for socket in sockets) and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # the consumer counts a frame before its first await


async def next_window(clock, *sockets):
    """Move the budgets into a fresh one-second window, once the frames sent to ``sockets`` were counted."""
    await settle(*sockets)
    clock.now += 1.05


@override_settings(LIVE_NOTIFY={"MAX_MESSAGES_PER_SECOND": 5})
async def test_frames_are_counted_per_user_across_all_their_sockets(clock):
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    laptop, phone, bobs = await open_socket(ana), await open_socket(ana), await open_socket(bob)
    await next_window(clock)
    for _ in range(4):
        await laptop.send_json_to({"type": "heartbeat"})
        await phone.send_json_to({"type": "heartbeat"})
        await bobs.send_json_to({"type": "heartbeat"})

    answers = await frames_within(laptop, 0.5) + await frames_within(phone, 0.5)
    assert sorted(frame["type"] for frame in answers) == ["error"] + ["heartbeat_ack"] * 5
    assert [frame["code"] for frame in answers if frame["type"] == "error"] == ["rate_limited"]
    assert await frames_within(bobs, 0.3) == [{"type": "heartbeat_ack"}] * 4  # another user's budget
    for socket in (laptop, phone, bobs):
        await socket.disconnect()


@override_settings(LIVE_NOTIFY={"MAX_MESSAGES_PER_SECOND": 5})
async def test_after_the_first_rate_limited_error_of_a_window_frames_are_dropped_without_a_reply(clock):
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    await next_window(clock)
    for _ in range(50):
        await socket.send_json_to({"type": "heartbeat"})

    frames = await frames_within(socket, 0.5)
    assert frames[:5] == [{"type": "heartbeat_ack"}] * 5
    assert [frame.get("code") for frame in frames[5:]] == ["rate_limited"]
    assert (await get_hub()).stats["rate_limited"] == 45

    await next_window(clock, socket)
    await socket.send_json_to({"type": "heartbeat"})
    assert await frames_within(socket, 0.3) == [{"type": "heartbeat_ack"}]  # a new window answers again
    await socket.disconnect()


async def flood(socket, clock, windows, per_window=8):
    """Send ``per_window`` heartbeats in each of ``windows`` one-second windows."""
    for _ in range(windows):
        for _ in range(per_window):
            await socket.send_json_to({"type": "heartbeat"})
        await settle(socket)
        clock.now += 1.02


async def close_code(socket):
    """Return the close code among what the socket sent so far, or None if it is still open."""
    for message in await outputs_within(socket, 0.1):
        if message["type"] == "websocket.close":
            return message["code"]
    return None


@override_settings(LIVE_NOTIFY={"MAX_MESSAGES_PER_SECOND": 5})
async def test_a_socket_over_the_limit_for_several_windows_in_a_row_is_closed_with_1008_and_a_quiet_one_stays(clock):
    ana = await sync_to_async(make_user)("ana")
    flooding, quiet = await open_socket(ana), await open_socket(ana)
    await next_window(clock)

    await flood(flooding, clock, ABUSIVE_WINDOWS - 1)
    assert await close_code(flooding) is None  # one window short
    await flood(flooding, clock, 1)

    assert await close_code(flooding) == 1008
    assert await close_code(quiet) is None
    await quiet.send_json_to({"type": "heartbeat"})
    # The user's budget is still over the limit in this window: the quiet socket is only told so, not closed.
    await next_window(clock, quiet)
    await quiet.send_json_to({"type": "heartbeat"})
    assert (await frames_within(quiet, 0.5))[-1] == {"type": "heartbeat_ack"}
    hub = await get_hub()
    assert hub.stats["closed_rate_limited"] == 1
    await quiet.disconnect()


@override_settings(LIVE_NOTIFY={"MAX_MESSAGES_PER_SECOND": 5})
async def test_a_quiet_second_ends_the_streak(clock):
    ana = await sync_to_async(make_user)("ana")
    socket = await open_socket(ana)
    await next_window(clock)

    await flood(socket, clock, ABUSIVE_WINDOWS - 1)
    clock.now += 1.1  # a whole window without frames
    await flood(socket, clock, ABUSIVE_WINDOWS - 1)

    assert await close_code(socket) is None
    await socket.disconnect()


async def answer_of_resume(socket, timeout=3):
    """Return the frames answering one resume: notifications up to resumed, then unread_count."""
    frames = []
    while True:
        frame = await receive_frame(socket, timeout)
        frames.append(frame)
        if frame["type"] == "unread_count" and len(frames) > 1 and frames[-2]["type"] == "resumed":
            return frames


@override_settings(LIVE_NOTIFY={"MAX_REPLAYED_PER_MINUTE": 118, "MAX_MESSAGES_PER_SECOND": 0})
async def test_resumes_past_the_users_row_budget_wait_merge_and_are_still_answered():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    for index in range(59):
        await sync_to_async(notify)(ana, title=f"missed {index}")
    first, second, bobs = await open_socket(ana), await open_socket(ana), await open_socket(bob)
    # Two resumes from 0 overspend the budget of 118 rows: 59 replayed rows plus one each.
    for socket in (first, second):
        await socket.send_json_to({"type": "resume", "last_id": 0})
        assert len(await answer_of_resume(socket)) == 61

    sent = time.monotonic()
    await first.send_json_to({"type": "resume", "last_id": 0})
    await first.send_json_to({"type": "heartbeat"})
    for _ in range(20):
        await first.send_json_to({"type": "resume", "last_id": 0})
    await bobs.send_json_to({"type": "resume", "last_id": 0})

    # The socket's other frames go on while its resume waits; another user's resume does not wait.
    assert await receive_frame(first, 1) == {"type": "heartbeat_ack"}
    assert [frame["type"] for frame in await answer_of_resume(bobs, 1)] == ["resumed", "unread_count"]
    # The waiting resume is answered once the bucket holds a row again (about a second), with everything.
    answer = await answer_of_resume(first, 4)
    waited = time.monotonic() - sent
    assert [frame["notification"]["title"] for frame in answer[:-2]] == [f"missed {index}" for index in range(59)]
    assert answer[-2] == {"type": "resumed", "count": 59, "complete": True}
    assert waited > 0.2
    # The twenty resumes sent while it waited were merged into it: no second answer.
    assert await frames_within(first, 1.0) == []

    # Closing every socket and opening a new one does not refill the budget.
    for socket in (first, second):
        await socket.disconnect()
    again = await open_socket(ana)
    await again.send_json_to({"type": "resume", "last_id": 0})
    await again.send_json_to({"type": "heartbeat"})
    assert await frames_within(again, 0.5) == [{"type": "heartbeat_ack"}]
    await again.disconnect()
    await bobs.disconnect()


@override_settings(LIVE_NOTIFY={"MAX_REPLAYED_PER_MINUTE": 0, "MAX_MESSAGES_PER_SECOND": 0})
async def test_with_no_limits_every_resume_is_answered_at_once():
    ana = await sync_to_async(make_user)("ana")
    await sync_to_async(notify)(ana, title="one")
    socket = await open_socket(ana)
    for _ in range(30):
        await socket.send_json_to({"type": "resume", "last_id": 0})
    answers = [await answer_of_resume(socket, 5) for _ in range(30)]
    assert all(answer[-2] == {"type": "resumed", "count": 1, "complete": True} for answer in answers)
    assert await frames_within(socket, 0.3) == []
    await socket.disconnect()


async def test_a_budget_is_forgotten_once_its_user_has_no_socket_and_it_is_back_to_full():
    key = "budget-test-user"
    budget = budgets.acquire(key)
    budgets.acquire(key)
    budgets.release(key)
    assert budgets._budgets().by_user[key] is budget
    budgets.release(key)
    assert key not in budgets._budgets().by_user  # full and at rest: nothing to keep

    budget = budgets.acquire(key)
    budget.charge_resume(99)
    budgets.release(key)
    assert budgets._budgets().by_user[key] is budget  # kept: reopening must not refill it
    assert budgets.acquire(key) is budget


# --------------------------------------------------------------------------- real servers

FLOOD_SOCKETS = 20
FLOOD_RATE = 20  # resume frames per second and socket
FLOOD_SECONDS = 8
NOTIFICATIONS = 33
MAX_REPLAYED = DEFAULTS["MAX_REPLAYED_PER_MINUTE"]  # the live servers run with the defaults

CREATE_FLOODER = f"""
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django_live_notify import notify
user = get_user_model().objects.create_user("flooder")
for index in range({NOTIFICATIONS}):
    notify(user, title=f"history {{index}}")
client = Client()
client.force_login(user)
print(json.dumps(client.cookies["sessionid"].value))
"""


def cpu_seconds(pid):
    """Return the CPU time (user + system) process ``pid`` has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def count_frames(socket, counts):
    async for _message in socket:
        counts["out"] += 1


async def flood_resumes(port, session_key):
    """Flood from FLOOD_SOCKETS sockets of one user; reconnect at once when closed. Return the counts."""
    counts = {"in": 0, "out": 0, "handshakes": 0, "refused": 0}
    closes = []
    stop_at = time.monotonic() + FLOOD_SECONDS
    frame = json.dumps({"type": "resume", "last_id": 0})

    async def one_socket():
        while time.monotonic() < stop_at:
            try:
                socket = await websockets.connect(
                    f"ws://127.0.0.1:{port}/ws/notifications/",
                    additional_headers={"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"},
                    compression=None,
                    open_timeout=5,
                    max_queue=None,
                )
            except (TimeoutError, OSError, websockets.InvalidStatus):
                counts["refused"] += 1
                await asyncio.sleep(0.05)
                continue
            counts["handshakes"] += 1

            reader = asyncio.create_task(count_frames(socket, counts))
            try:
                while time.monotonic() < stop_at and not reader.done():
                    await socket.send(frame)
                    counts["in"] += 1
                    await asyncio.sleep(1 / FLOOD_RATE)
            except websockets.ConnectionClosed:
                pass
            if time.monotonic() >= stop_at:
                await socket.close()
            try:
                await asyncio.wait_for(reader, 5)
            except (TimeoutError, websockets.ConnectionClosed):
                pass
            if socket.close_code not in (None, 1000):
                closes.append(socket.close_code)

    await asyncio.gather(*(one_socket() for _ in range(FLOOD_SOCKETS)))
    return counts, closes


@pytest.fixture(scope="module")
def flood_database(tmp_path_factory):
    env = live_env(live_database_in(tmp_path_factory.mktemp("budgets")))
    manage(env, "migrate", "-v0")
    session_key = json.loads(manage(env, "shell", "-v0", "-c", CREATE_FLOODER).strip().splitlines()[-1])
    return env, session_key


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_one_user_flooding_resume_from_twenty_sockets_gets_back_fewer_frames_than_it_sends(
    flood_database, kind, request
):
    env, session_key = flood_database
    server = AsgiServer(kind, env)
    server.start()
    try:
        cpu_before = cpu_seconds(server.process.pid)
        counts, closes = asyncio.run(flood_resumes(server.port, session_key))
        cpu_used = cpu_seconds(server.process.pid) - cpu_before
    finally:
        server.stop()

    # A handshake is a request the server answers too (the reconnect's first resume), so it counts as one in;
    # how often the flooder reconnects depends on the machine's load, not on the budget.
    ratio = counts["out"] / (counts["in"] + counts["handshakes"])
    print(
        f"\n{kind}: {counts['in']} frames in, {counts['out']} out ({ratio:.2f} per frame or handshake in), "
        f"{cpu_used:.2f} s CPU in {FLOOD_SECONDS} s, {counts['handshakes']} handshakes, "
        f"closes {sorted(set(closes))} x{len(closes)}"
    )
    report(request, f"{kind}_frames_out_per_frame_or_handshake_in", round(ratio, 3), "")
    report(request, f"{kind}_server_cpu", round(cpu_used, 2), " s")
    # The flood really ran: every socket sent many frames, although each is closed soon after it starts.
    assert counts["in"] > FLOOD_SOCKETS * FLOOD_RATE
    # Without the budget each resume from 0 replays all NOTIFICATIONS rows: 34 frames out for each one in. With it,
    # what goes out is bounded by the user's row budget (the full bucket plus its refill over the flood), whatever
    # the machine's load lets the flooder send: at most a row and an answer frame per unit of budget.
    budget = MAX_REPLAYED * (1 + FLOOD_SECONDS / 60)
    assert counts["out"] <= 2 * budget
    assert counts["out"] < NOTIFICATIONS * counts["in"] / 10
    # Persistent abuse closes sockets with 1008, or 4008 where daphne refuses 1008 from applications;
    # under load a few closes end without a close frame (1006).
    policy_close = 1008 if kind == "uvicorn" else 4008
    assert policy_close in closes
    assert set(closes) <= {policy_close, 1006}
