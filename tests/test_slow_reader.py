"""One client that never reads cannot hold up anyone else, under real uvicorn and daphne (issue 11).

A logged-in user opens a raw socket with a 4 KiB receive buffer, floods
heartbeats and never reads; notifications are sent to that user too, so the
server must write to the stuck socket. Meanwhile another user's notifications
must keep arriving promptly, and the stuck socket must be dropped within
WRITE_TIMEOUT (plus a margin), without the server's memory growing with it.
"""

import asyncio
import base64
import json
import os
import socket
import statistics
import threading
import time

import pytest
import websockets

from tests.live_clients import Sender
from tests.servers import AsgiServer, create_sessions, live_env, manage, report

WRITE_TIMEOUT = 10  # the default, stated in docs/settings.rst
MARGIN = 3
HEALTHY_NOTIFICATIONS = 40
HEARTBEAT = '{"type":"heartbeat"}'


def masked_text_frame(text: str) -> bytes:
    """Return one masked client text frame (short payloads only)."""
    payload = text.encode()
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def stuck_socket(port: int, session_key: str) -> socket.socket:
    """Open a WebSocket by hand on a socket with a 4 KiB receive buffer; read the handshake answer only."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/notifications/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={session_key}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    sock.settimeout(None)
    return sock


class Flood(threading.Thread):
    """Send heartbeats as fast as the server takes them, never read; note when the server drops the socket."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.sent = 0
        self.dropped_at: float | None = None
        self.stop = False

    def run(self) -> None:
        batch = masked_text_frame(HEARTBEAT) * 20
        while not self.stop:
            try:
                self.sock.sendall(batch)
            except OSError:
                self.dropped_at = time.monotonic()
                return
            self.sent += 20


@pytest.fixture
def served(request, tmp_path, redis_url):
    env = live_env(tmp_path / "db.sqlite3", redis_url)
    manage(env, "migrate", "-v0")
    users = create_sessions(env, 2)
    server = AsgiServer(request.param, env)
    server.start()
    yield server, env, users
    server.stop()


@pytest.mark.parametrize("served", ["uvicorn", "daphne"], indirect=True)
async def test_a_client_that_never_reads_is_dropped_and_holds_up_no_one(served, request):
    server, env, [(stuck_id, stuck_key, _), (healthy_id, healthy_key, _)] = served
    headers = {"Cookie": f"sessionid={healthy_key}", "Origin": f"http://127.0.0.1:{server.port}"}
    healthy = await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/notifications/", additional_headers=headers, compression=None
    )
    arrived: dict[int, float] = {}

    async def read_healthy():
        async for text in healthy:
            frame = json.loads(text)
            if frame["type"] == "notification":
                arrived[frame["notification"]["id"]] = time.time()

    reading = asyncio.create_task(read_healthy())
    sender = Sender(env)
    await sender.start()
    rss_before = server.rss_kib()
    flood = Flood(await asyncio.to_thread(stuck_socket, server.port, stuck_key))
    flood.start()
    try:
        stuck_since = time.monotonic()
        for number in range(5):
            sender.notify([stuck_id], f"to the stuck socket {number}")
        answers = []
        for number in range(HEALTHY_NOTIFICATIONS):
            answers.append(sender.notify([healthy_id], f"to the healthy socket {number}"))
            await asyncio.sleep(0.1)
        ids = [answer["ids"][0][1] for answer in await asyncio.gather(*answers)]
        deadline = time.monotonic() + 5
        while len(set(ids) & set(arrived)) < len(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        while flood.dropped_at is None and time.monotonic() < stuck_since + WRITE_TIMEOUT + MARGIN:
            await asyncio.sleep(0.1)
        rss_after = server.rss_kib()
    finally:
        flood.stop = True
        flood.sock.close()
        reading.cancel()
        await healthy.close()
        await sender.stop()
    latencies = sorted(arrived[i] - sender.committed[i] for i in ids if i in arrived)
    missing = len(ids) - len(latencies)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("inf")
    dropped_after = None if flood.dropped_at is None else flood.dropped_at - stuck_since
    print(
        f"\n{request.node.callspec.id}: healthy p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, missing {missing}; stuck socket dropped after "
        f"{dropped_after if dropped_after is None else round(dropped_after, 2)} s, {flood.sent} heartbeats sent; "
        f"server RSS {rss_before} KiB -> {rss_after} KiB ({rss_after - rss_before:+d} KiB)"
    )
    report(request, "healthy_p99_ms", round(p99 * 1000, 1), " ms")
    report(request, "rss_growth_kib", rss_after - rss_before, " KiB")
    assert missing == 0
    # The figure is printed above; the bound is generous for a 2-core machine shared with other work.
    assert p99 < 0.5
    assert dropped_after is not None, "the stuck socket was never dropped"
    assert dropped_after < WRITE_TIMEOUT + MARGIN
    assert rss_after - rss_before < 8 * 1024
