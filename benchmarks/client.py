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

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

HEARTBEAT = 30.0
HEARTBEAT_FRAME = '{"type":"heartbeat"}'
LIVE_PATH = "/ws/notifications/"
RESUME_FRAME = '{"type":"resume","last_id":0}'
NOTIFICATION_PREFIXES = ('{"type":"notification"', '{"type": "notification"')
TOKEN_PROTOCOL = "live-notify.v1"
TOKEN_PREFIX = "live-notify.token."


class Client:
    def __init__(self, targets: list[list[Any]]) -> None:
        self.targets = targets
        self.sockets: dict[int, ClientConnection] = {}
        self.frames: list[list[Any]] = []
        self.other_frames = 0
        self.close_codes: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.handshakes: list[float] = []
        self.expect = 0
        self.enough = asyncio.Event()
        self.readers: set[asyncio.Task[None]] = set()
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
        user_id, credential, port, path, auth = self.targets[index][:5]
        # A loopback source address of its own (127.0.0.2, ...) per share of the sockets: past about 28,000
        # sockets from one address to one port, the ephemeral ports run out.
        source = self.targets[index][5] if len(self.targets[index]) > 5 else None
        headers = {"Origin": f"http://127.0.0.1:{port}"}
        subprotocols = None
        if auth == "token":
            # The token as a subprotocol, next to the protocol the server answers with.
            subprotocols = [TOKEN_PROTOCOL, TOKEN_PREFIX + credential]
        else:
            headers["Cookie"] = f"sessionid={credential}"
        async with semaphore:
            begun = time.time()
            try:
                socket = await connect(
                    f"ws://127.0.0.1:{port}{path}",
                    additional_headers=headers,
                    subprotocols=subprotocols,
                    compression=None,
                    proxy=None,
                    ping_interval=None,
                    open_timeout=60,
                    close_timeout=1,
                    max_queue=None,
                    **({"local_addr": (source, 0)} if source else {}),
                )
            except Exception as error:
                self.errors[f"{type(error).__name__}: {str(error)[:60]}"] += 1
                return None
            opened = time.time()
            if path.startswith(LIVE_PATH):
                # Like the bundled JS client: resume from the newest id the page knew (none, here).
                try:
                    await socket.send(RESUME_FRAME)
                except ConnectionClosed:
                    pass
        self.handshakes.append(opened - begun)
        self.sockets[index] = socket
        self.heartbeats.append((opened + HEARTBEAT, index))
        reader = asyncio.create_task(self.read(user_id, index, socket))
        self.readers.add(reader)
        reader.add_done_callback(self.readers.discard)
        return opened

    async def read(self, user_id: int, index: int, socket: ClientConnection) -> None:
        try:
            async for text in socket:
                now = time.time()
                if isinstance(text, str) and text.startswith(NOTIFICATION_PREFIXES):
                    notification = json.loads(text)["notification"]
                    self.frames.append([user_id, notification["id"], notification["title"], now])
                    if self.ack_interval > 0:
                        self.queue_ack(index, notification["id"])
                    if len(self.frames) >= self.expect:
                        self.enough.set()
                else:
                    self.other_frames += 1
        except ConnectionClosed:
            pass
        finally:
            self.sockets.pop(index, None)
            self.close_codes[str(socket.close_code)] += 1

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
            task = asyncio.create_task(self._send_quietly(socket, json.dumps({"type": "ack", "ids": ids[:100]})))
            self.readers.add(task)
            task.add_done_callback(self.readers.discard)

    @staticmethod
    async def _send_quietly(socket: ClientConnection, text: str) -> None:
        try:
            await socket.send(text)
        except ConnectionClosed:
            pass

    async def send_heartbeats(self) -> None:
        while True:
            now = time.time()
            while self.heartbeats and self.heartbeats[0][0] <= now:
                due, index = self.heartbeats.popleft()
                socket = self.sockets.get(index)
                if socket is None:
                    continue
                try:
                    await socket.send(HEARTBEAT_FRAME)
                except ConnectionClosed:
                    continue
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
