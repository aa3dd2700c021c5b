"""One client process of the benchmark: holds many authenticated WebSockets and timestamps what they receive.

run.py starts one or more of these with a JSON file of ``[user_id, credential, port, path,
auth, source address or None]`` targets (``auth`` is ``cookie``, with a session key, or ``token``, with a socket
token), then drives them with one JSON command per line on stdin; each command is answered
with one JSON line on stdout:

* ``{"cmd": "connect", "concurrency": 100, "timeout": 120, "count": None}``: open the next
  ``count`` sockets (all the rest when None), at most ``concurrency`` handshakes at a time;
  answer counts, errors and the first and last times.
* ``{"cmd": "collect", "expect": K, "timeout": T}``: wait until K notification frames arrived
  since the last collect (or T seconds passed); answer them as ``[user_id, id, title, time]``.
* ``{"cmd": "status"}``: answer how many sockets are open, and the close codes of the others.
* ``{"cmd": "quit"}``.

Sockets send ``{"type": "heartbeat"}`` every HEARTBEAT seconds after opening, like the JS
client; django-live-notify's sockets also send ``resume`` as soon as they open, as the JS
client does on every (re)connect. With ``BENCH_ACK_INTERVAL`` (seconds) above 0 they also ack every notification
they receive, gathered for that long into one ``ack`` frame per socket, as the JS client does with analytics on
(run.py --acks). Receipt times are ``time.time()`` right after the frame is read, so they compare
with the server's call times on the same machine.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

HEARTBEAT = 30.0
HEARTBEAT_FRAME = '{"type":"heartbeat"}'
LIVE_PATH = "/ws/notifications/"
RESUME_FRAME = '{"type":"resume","last_id":0}'
NOTIFICATION_PREFIXES = ('{"type":"notification"', '{"type": "notification"')
TOKEN_PROTOCOL = "live-notify.v1"
TOKEN_PREFIX = "live-notify.token."


class Socket(asyncio.Protocol):
    """One client WebSocket: websockets' sans-I/O protocol over an asyncio transport.

    Frames are handled in ``data_received`` itself, with no reader task and no future per message: the asyncio
    client of websockets spent several times the server's CPU per broadcast frame waking one task per socket, and
    10,000 sockets to a client process made the load generator, not the server, set the broadcast's last receipt.
    """

    def __init__(self, client: Client, index: int, uri: str, origin: str, subprotocols: list[str] | None) -> None:
        self.client = client
        self.index = index
        self.user_id = client.targets[index][0]
        self.protocol = ClientProtocol(
            parse_uri(uri),
            origin=Origin(origin),
            subprotocols=[Subprotocol(name) for name in subprotocols] if subprotocols else None,
            max_size=None,
        )
        self.request = self.protocol.connect()
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        now = time.time()
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.opened.done():
                    continue
                if self.protocol.state is State.OPEN:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(self.protocol.handshake_exc or ConnectionError("handshake failed"))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.client.received(self.index, self.user_id, bytes(event.data).decode(), now)
        self.flush()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
            return
        self.client.lost(self.index, self.protocol.close_code)

    def send(self, text: str) -> None:
        """Send a text frame now, if the socket is still open."""
        if self.transport is None or self.protocol.state is not State.OPEN:
            return
        self.protocol.send_text(text.encode())
        self.flush()

    def flush(self) -> None:
        """Write what the protocol has to send: frames, pongs, the close frame; b"" means half-close."""
        if self.transport is None:
            return
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()


class Client:
    def __init__(self, targets: list[list[Any]]) -> None:
        self.targets = targets
        self.sockets: dict[int, Socket] = {}
        self.frames: list[list[Any]] = []
        self.other_frames = 0
        self.close_codes: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.handshakes: list[float] = []
        self.expect = 0
        self.enough = asyncio.Event()
        # (due time, socket index), in due order: sockets open in time order, heartbeats repeat.
        self.heartbeats: collections.deque[tuple[float, int]] = collections.deque()
        self.heartbeat_task: asyncio.Task[None] | None = None
        self.next_index = 0
        self.ack_interval = float(os.environ.get("BENCH_ACK_INTERVAL") or 0)
        # Ids received per socket and not acked yet, and the sockets that have some, in arrival order.
        self.unacked: dict[int, list[int]] = {}
        self.acks_sent = 0

    async def open_all(self, concurrency: int, limit: float, count: int | None) -> dict[str, Any]:
        """Open the next ``count`` sockets (all the rest when None), ``concurrency`` handshakes at a time."""
        semaphore = asyncio.Semaphore(concurrency)
        if self.heartbeat_task is None:
            self.heartbeat_task = asyncio.create_task(self.send_heartbeats())
        end = len(self.targets) if count is None else min(len(self.targets), self.next_index + count)
        indexes = range(self.next_index, end)
        self.next_index = end
        self.handshakes = []
        errors_before = sum(self.errors.values())
        started = time.time()
        tasks = [asyncio.create_task(self.open_one(index, semaphore)) for index in indexes]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=limit)
        else:
            done, pending = set(), set()
        for task in pending:
            task.cancel()
        if pending:
            self.errors[f"no handshake within {limit:.0f} s"] += len(pending)
        finished = max((task.result() for task in done if task.result()), default=started)
        self.handshakes.sort()
        return {
            "opened": len(self.sockets),
            "failed": self.next_index - len(self.sockets),
            "failed_now": sum(self.errors.values()) - errors_before,
            "open_users": [self.targets[index][0] for index in self.sockets],
            "errors": dict(self.errors),
            "started": started,
            "finished": finished,
            "handshake_p50": percentile(self.handshakes, 50),
            "handshake_p99": percentile(self.handshakes, 99),
        }

    async def open_one(self, index: int, semaphore: asyncio.Semaphore) -> float | None:
        credential, port, path, auth = self.targets[index][1:5]
        # A loopback source address of its own (127.0.0.2, ...) per share of the sockets: past about 28,000
        # sockets from one address to one port, the ephemeral ports run out.
        source = self.targets[index][5] if len(self.targets[index]) > 5 else None
        subprotocols = None
        if auth == "token":
            # The token as a subprotocol, next to the protocol the server answers with.
            subprotocols = [TOKEN_PROTOCOL, TOKEN_PREFIX + credential]
        socket = Socket(self, index, f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}", subprotocols)
        if auth != "token":
            socket.request.headers["Cookie"] = f"sessionid={credential}"
        async with semaphore:
            begun = time.time()
            try:
                await asyncio.wait_for(self.handshake(socket, port, source), 60)
            except Exception as error:
                if socket.transport is not None:
                    socket.transport.abort()
                self.errors[f"{type(error).__name__}: {str(error)[:60]}"] += 1
                return None
            opened = time.time()
            self.sockets[index] = socket
            if path.startswith(LIVE_PATH):
                # Like the bundled JS client: resume from the newest id the page knew (none, here).
                socket.send(RESUME_FRAME)
        self.handshakes.append(opened - begun)
        self.heartbeats.append((opened + HEARTBEAT, index))
        return opened

    @staticmethod
    async def handshake(socket: Socket, port: int, source: str | None) -> None:
        local = (source, 0) if source else None
        await asyncio.get_running_loop().create_connection(lambda: socket, "127.0.0.1", port, local_addr=local)
        await socket.opened

    def received(self, index: int, user_id: int, text: str, now: float) -> None:
        """Count one text frame; keep notifications with their receipt time."""
        if text.startswith(NOTIFICATION_PREFIXES):
            notification = json.loads(text)["notification"]
            self.frames.append([user_id, notification["id"], notification["title"], now])
            if self.ack_interval > 0:
                self.queue_ack(index, notification["id"])
            if len(self.frames) >= self.expect:
                self.enough.set()
        else:
            self.other_frames += 1

    def lost(self, index: int, close_code: int | None) -> None:
        self.sockets.pop(index, None)
        self.close_codes[str(close_code)] += 1

    def queue_ack(self, index: int, notification_id: int) -> None:
        pending = self.unacked.setdefault(index, [])
        if not pending:
            # The socket's first unacked id: its ack goes out ack_interval from now, like the JS client's timer.
            asyncio.get_running_loop().call_later(self.ack_interval, self.send_ack, index)
        pending.append(notification_id)

    def send_ack(self, index: int) -> None:
        ids = self.unacked.pop(index, [])
        socket = self.sockets.get(index)
        if ids and socket is not None:
            self.acks_sent += 1
            socket.send(json.dumps({"type": "ack", "ids": ids[:100]}))

    async def send_heartbeats(self) -> None:
        while True:
            now = time.time()
            while self.heartbeats and self.heartbeats[0][0] <= now:
                due, index = self.heartbeats.popleft()
                socket = self.sockets.get(index)
                if socket is None:
                    continue
                socket.send(HEARTBEAT_FRAME)
                self.heartbeats.append((due + HEARTBEAT, index))
            await asyncio.sleep(0.05)

    async def collect(self, expect: int, limit: float) -> dict[str, Any]:
        self.expect = expect
        if len(self.frames) < expect:
            self.enough.clear()
            try:
                await asyncio.wait_for(self.enough.wait(), limit)
            except TimeoutError:
                pass
        frames, self.frames = self.frames, []
        return {"frames": frames}

    def status(self) -> dict[str, Any]:
        return {
            "open": len(self.sockets),
            "closed": dict(self.close_codes),
            "other_frames": self.other_frames,
            "acks_sent": self.acks_sent,
        }


def percentile(sorted_values: list[float], rank: float) -> float | None:
    """Return the nearest-rank percentile of already sorted values, or None for none."""
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, round(rank / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def main(targets: list[list[Any]]) -> None:
    client = Client(targets)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "connect":
            answer = await client.open_all(
                command.get("concurrency", 100), command.get("timeout", 120), command.get("count")
            )
        elif name == "collect":
            answer = await client.collect(command["expect"], command["timeout"])
        elif name == "status":
            answer = client.status()
        elif name == "quit":
            # Skip closing thousands of sockets one by one: the kernel closes them all at exit.
            sys.stdout.flush()
            os._exit(0)
        else:
            answer = {"error": f"unknown command {name!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        with open(sys.argv[1]) as file:
            asyncio.run(main(json.load(file)))
    except KeyboardInterrupt:
        pass
