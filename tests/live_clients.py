"""Clients that behave like live-notify.js, a notify() process, and the delivery check of the long tests.

A :class:`LiveClient` keeps one user's socket open the way the bundled JS client
does: it sends ``resume`` with the highest id it has seen after every (re)connect,
sends heartbeats and treats a missing ``heartbeat_ack`` as a dead socket, reconnects
after 1012/4012 within a second and after anything else with equal-jitter backoff,
and counts every notification it receives, duplicates included. Each attempt goes to
the next server in its list, as a load balancer would send a retry elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.servers import ROOT, LiveDatabase

# Close codes after which live-notify.js reconnects within a second instead of backing off.
QUICK_RECONNECT_CODES = {1012, 4003, 4012}
CLOSE_HEARTBEAT_TIMEOUT = 4000


@dataclass
class Timing:
    """The JS client's timers, scaled down so that a test sees several rounds of them."""

    heartbeat: float
    reconnect_delay: float = 1.0
    max_reconnect_delay: float = 8.0

    @property
    def heartbeat_timeout(self) -> float:
        return min(10.0, self.heartbeat / 2)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_reconnect_delay, self.reconnect_delay * 2**attempt)
        return ceiling / 2 + random.random() * ceiling / 2


@dataclass
class LiveClient:
    user_id: int
    session_key: str
    last_id: int
    ports: list[int]
    timing: Timing
    port_index: int = 0
    received: Counter[int] = field(default_factory=Counter)
    first_seen: dict[int, float] = field(default_factory=dict)
    close_codes: Counter[int | None] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    incomplete_resumes: int = 0
    # Seconds from losing a socket to the next one answering its resume.
    outages: list[float] = field(default_factory=list)
    connected_since: float | None = None

    def __post_init__(self) -> None:
        self.socket: ClientConnection | None = None
        self.port: int | None = None  # of the server the socket is open to
        self.task: asyncio.Task[None] | None = None
        self.awake = asyncio.Event()
        self.awake.set()
        self.ack = asyncio.Event()
        self.resuming = False
        self.resumed = asyncio.Event()
        self.lost_at: float | None = None
        self.stopping = False

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        self.stopping = True
        self.awake.set()
        if self.socket is not None:
            self.socket.transport.abort()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    @property
    def connected(self) -> bool:
        return self.socket is not None and self.resumed.is_set()

    async def run(self) -> None:
        attempt = 0
        while not self.stopping:
            port = self.ports[self.port_index % len(self.ports)]
            self.port_index += 1
            try:
                socket = await connect(
                    f"ws://127.0.0.1:{port}/ws/notifications/",
                    additional_headers={
                        "Cookie": f"sessionid={self.session_key}",
                        "Origin": f"http://127.0.0.1:{port}",
                    },
                    compression=None,
                    proxy=None,
                    ping_interval=None,
                    open_timeout=10,
                    close_timeout=1,
                    max_queue=None,
                )
            except Exception as error:
                self.errors[f"connect: {type(error).__name__}"] += 1
                code = None
            else:
                attempt = 0
                self.port = port
                code = await self.serve(socket)
            if code == 4001:
                self.errors["4001: not authenticated"] += 1
                return
            delay = random.random() if code in QUICK_RECONNECT_CODES else self.timing.backoff(attempt)
            attempt += 1
            await asyncio.sleep(delay)
            await self.awake.wait()

    async def serve(self, socket: ClientConnection) -> int | None:
        """Use one open socket until it closes; return its close code (None when it just dropped)."""
        self.socket = socket
        self.opens += 1
        self.resumed.clear()
        self.resuming = True
        heartbeats = asyncio.create_task(self.send_heartbeats(socket))
        try:
            if self.last_id:
                await socket.send(json.dumps({"type": "resume", "last_id": self.last_id}))
            else:
                self.resuming = False
                await socket.send('{"type": "get_unread_count"}')
            async for text in socket:
                await self.awake.wait()
                self.receive(json.loads(text))
        except ConnectionClosed:
            pass
        finally:
            heartbeats.cancel()
            self.socket = None
            self.resumed.clear()
            self.connected_since = None
            self.lost_at = time.monotonic()
        # The code the server closed with; the client's own (4000) when the server never answered it.
        received, sent = socket.protocol.close_rcvd, socket.protocol.close_sent
        code = received.code if received else sent.code if sent else None
        self.close_codes[code] += 1
        return code

    def receive(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "notification":
            notification_id = frame["notification"]["id"]
            self.received[notification_id] += 1
            self.first_seen.setdefault(notification_id, time.time())
            self.last_id = max(self.last_id, notification_id)
        elif kind == "resumed":
            self.incomplete_resumes += not frame["complete"]
            self.mark_resumed()
        elif kind == "unread_count" and not self.resuming:
            self.mark_resumed()
        elif kind == "heartbeat_ack":
            self.ack.set()
        elif kind == "error":
            self.errors[frame["code"]] += 1

    def mark_resumed(self) -> None:
        self.resuming = False
        if not self.resumed.is_set():
            self.resumed.set()
            self.connected_since = time.monotonic()
            if self.lost_at is not None:
                self.outages.append(self.connected_since - self.lost_at)
                self.lost_at = None

    async def send_heartbeats(self, socket: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.timing.heartbeat)
            await self.awake.wait()
            self.ack.clear()
            try:
                await socket.send('{"type": "heartbeat"}')
                await asyncio.wait_for(self.ack.wait(), self.timing.heartbeat_timeout)
            except ConnectionClosed:
                return
            except TimeoutError:
                self.errors["heartbeat timeout"] += 1
                await socket.close(CLOSE_HEARTBEAT_TIMEOUT)
                return

    def drop(self) -> None:
        """Lose the connection without a close frame (a network failure); the client reconnects."""
        if self.socket is not None:
            self.socket.transport.abort()

    async def sleep(self, seconds: float) -> None:
        """Stop reading and sending for ``seconds``, like a laptop that sleeps; frames wait in the buffers."""
        self.awake.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.awake.set()


def clients_for(users: list[tuple[int, str, int]], ports: list[int], timing: Timing) -> list[LiveClient]:
    """Return one client per user, spread over ``ports`` in turn."""
    return [
        LiveClient(user_id, session_key, last_id, ports, timing, port_index=index)
        for index, (user_id, session_key, last_id) in enumerate(users)
    ]


def summary(clients: list[LiveClient]) -> str:
    """Describe the clients' state in one line, for failure messages."""
    errors: Counter[str] = Counter()
    codes: Counter[int | None] = Counter()
    for client in clients:
        errors.update(client.errors)
        codes.update(client.close_codes)
    connected = sum(client.connected for client in clients)
    crashed = [
        client.task.exception()
        for client in clients
        if client.task and client.task.done() and not client.task.cancelled()
    ]
    return (
        f"{connected}/{len(clients)} connected; close codes {dict(codes)}; errors {dict(errors)}; "
        f"{len(crashed)} clients ended, first with {crashed[0] if crashed else None!r}"
    )


async def wait_until(predicate, timeout: float, describe=None, step: float = 0.1) -> float:
    """Wait until ``predicate()`` is true; return the seconds it took, or raise TimeoutError.

    The error names the predicate by its docstring, and adds ``describe()`` when given.
    """
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            name = getattr(predicate, "__doc__", None) or predicate
            raise TimeoutError(f"not true within {timeout} s: {name}" + (f" ({describe()})" if describe else ""))
        await asyncio.sleep(step)
    return time.monotonic() - started


class Sender:
    """The tests.live_sender process: notify() on the servers' database and Redis, from outside the servers."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.pending: asyncio.Queue[tuple[asyncio.Future[dict[str, Any]], float]] = asyncio.Queue()
        self.committed: dict[int, float] = {}
        # Seconds each notify() call took, from the command to its commit (a locked database makes it wait).
        self.call_times: list[float] = []
        self.errors: list[str] = []
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.live_sender", cwd=ROOT, env=self.env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.reader = asyncio.create_task(self.read_answers())

    async def read_answers(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            answer = json.loads(line)
            if "error" in answer:
                self.errors.append(answer["error"])
            for _user_id, notification_id in answer.get("ids", ()):
                self.committed[notification_id] = answer["committed"]
            future, requested = await self.pending.get()
            if "committed" in answer:
                self.call_times.append(answer["committed"] - requested)
            future.set_result(answer)

    def notify(self, user_ids: list[int], title: str, message: str = "") -> asyncio.Future[dict[str, Any]]:
        """Queue one notify() call; return a future of its answer."""
        assert self.process is not None and self.process.stdin is not None
        answer = asyncio.get_running_loop().create_future()
        self.pending.put_nowait((answer, time.time()))
        command = {"users": user_ids, "title": title, "message": message}
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        return answer

    async def stop(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 5)


async def send_steadily(sender: Sender, user_ids: list[int], rate: float, stop: asyncio.Event, label: str) -> int:
    """Call notify() ``rate`` times a second until ``stop`` is set; return how many calls were made.

    Most calls notify one user; one in ten notifies five (five user-group sends) and one
    in twenty notifies forty (one send to the everyone group).
    """
    calls = 0
    while not stop.is_set():
        draw = random.random()
        size = 40 if draw < 0.05 else 5 if draw < 0.15 else 1
        sender.notify(random.sample(user_ids, min(size, len(user_ids))), f"{label} {calls}")
        calls += 1
        try:
            await asyncio.wait_for(stop.wait(), 1 / rate)
        except TimeoutError:
            pass
    return calls


def stored_notifications(database: LiveDatabase, after: int) -> dict[int, set[int]]:
    """Return the ids of the notifications above id ``after`` in ``database``, by recipient: what clients must get."""
    rows = database.query(
        f"SELECT recipient_id, id FROM django_live_notify_notification WHERE id > {int(after)} AND NOT silent"
    )
    expected: dict[int, set[int]] = {}
    for recipient_id, notification_id in rows:
        expected.setdefault(recipient_id, set()).add(notification_id)
    return expected


@dataclass
class Delivery:
    """How the clients' receipts compare with the stored notifications."""

    expected: int
    missing: dict[int, set[int]]
    unexpected: dict[int, set[int]]
    duplicates: int

    @property
    def exact(self) -> bool:
        return not self.missing and not self.unexpected


def delivery(clients: list[LiveClient], expected: dict[int, set[int]], after: int) -> Delivery:
    """Compare what each client received above id ``after`` (deduplicated by id) with ``expected``."""
    missing: dict[int, set[int]] = {}
    unexpected: dict[int, set[int]] = {}
    duplicates = 0
    for client in clients:
        seen = {notification_id for notification_id in client.received if notification_id > after}
        duplicates += sum(count - 1 for notification_id, count in client.received.items() if notification_id > after)
        wanted = expected.get(client.user_id, set())
        if wanted - seen:
            missing[client.user_id] = wanted - seen
        if seen - wanted:
            unexpected[client.user_id] = seen - wanted
    return Delivery(sum(map(len, expected.values())), missing, unexpected, duplicates)


async def wait_for_delivery(
    clients: list[LiveClient], database: LiveDatabase, after: int, timeout: float
) -> tuple[Delivery, float]:
    """Wait until every client has every stored notification addressed to it; return the check and the wait."""
    started = time.monotonic()
    while True:
        expected = await asyncio.to_thread(stored_notifications, database, after)
        check = delivery(clients, expected, after)
        if check.exact or time.monotonic() - started > timeout:
            return check, time.monotonic() - started
        await asyncio.sleep(0.5)
