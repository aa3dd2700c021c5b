"""Scale benchmark of django-live-notify against a plain Channels consumer, in one run.

    python benchmarks/run.py [--clients 10000] [--layers memory,redis] [--quick] [--quiet] [--acks]
    python benchmarks/run.py --servers 4 --redis-shards 2 --clients 40000 --layers redis,redis-pubsub --no-baseline

For each layer it runs two scenarios, each on its own copy of one prepared database:
``live`` (django-live-notify's socket, /ws/notifications/) and ``baseline`` (a plain
AsyncJsonWebsocketConsumer written the usual way, /ws/baseline/). Each scenario
starts its own uvicorn process(es) (two on a private redis-server for ``redis``), opens
every client from separate client processes (benchmarks/client.py), and measures: time
to connect all, failures, server RSS per connection, targeted delivery from the notify()
call to receipt, and broadcast delivery from the broadcast() call to receipt. It prints
each figure with its ratio to the baseline, and exits with 1 if a message of
django-live-notify was lost or one of its targets was missed. Results go to stdout; progress
lines of the long phases go to stderr, unless --quiet. See benchmarks/README.rst.

``--acks`` measures the cost of analytics instead: per layer, django-live-notify with analytics off (clients send
no acks) against analytics on (every socket acks what it receives, batched like the JS client), and prints the
figures of both with their ratio, and what the acks cost the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_for_port  # noqa: E402  (ROOT is on sys.path from here on)

WS_IMPLEMENTATION = "websockets-sansio"
BROADCAST_CAP = 60.0
CONNECT_TIMEOUT = 150.0
TARGETED_WAIT = 10.0
# The servers' sweep interval (hub.sweep_interval()): half of benchmarks/settings.py's 30 s heartbeat.
SWEEP = 15.0
# Share of each client process's sockets opened first, to measure memory per connection
# without the one-time costs of the first sockets (lazy imports, pools, caches).
WARM_UP_SHARE = 0.01
# Targets of django-live-notify per layer.
TARGETS = {
    "memory": {"connect_s": 30.0, "rss_kb": 25.0, "targeted_p99_ms": 20.0, "broadcast_max_ms": 1000.0},
    "redis": {"connect_s": 30.0, "rss_kb": 25.0, "targeted_p99_ms": 50.0, "broadcast_max_ms": 1500.0},
    "redis-pubsub": {"connect_s": 30.0, "rss_kb": 25.0, "targeted_p99_ms": 50.0, "broadcast_max_ms": 1500.0},
}
# Scale-out (more than 10,000 clients): connect all within 3x the single-process time for 10,000 (13.1 s in
# docs/performance.rst), targeted p99 under 50 ms, a broadcast with its rows stored at the last socket within 3 s,
# and no more memory per socket than one process holding 10,000.
SINGLE_PROCESS_CONNECT_S = 13.1
SCALE_TARGETS = {
    "connect_s": 3 * SINGLE_PROCESS_CONNECT_S,
    "rss_kb": 25.0,
    "targeted_p99_ms": 50.0,
    "broadcast_max_ms": 3000.0,
}
# How closely RSS per socket tells two runs apart: four identical server processes of one run differ by up to
# 0.7% (RedisChannel) and 2.6% (pub/sub) from each other (results-scaleout-40k-2026-12-06-h.txt). "No more
# memory than one process" is judged to this resolution.
RSS_RESOLUTION = 0.01
REDIS_LAYERS = ("redis", "redis-pubsub")
# Sockets per loopback source address: ephemeral ports run out at about 28,000 per (source, destination).
SOCKETS_PER_SOURCE = 10_000
PATHS = {"live": "/ws/notifications/", "baseline": "/ws/baseline/", "bare": "/ws/bare/"}
# Seconds between progress lines while the clients connect.
PROGRESS_EVERY = 5.0


def log(message: str) -> None:
    print(message, flush=True)


def progress(args: argparse.Namespace, message: str) -> None:
    """Print a progress line of a long phase to stderr, unless --quiet (results go to stdout, with log())."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


# Processes -------------------------------------------------------------------------------


class Processes:
    """Every process the run starts, so that all of them are stopped however the run ends."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, command: list[str], *, env: dict[str, str], stderr: Any, pipes: bool = False) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stderr=stderr,
            # Own session: Ctrl-C reaches only this script, which then stops everything in order.
            start_new_session=True,
        )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, grace: float = 5.0) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if process in self.running:
            self.running.remove(process)

    def kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.kill()
        self.stop(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            with contextlib.suppress(Exception):
                self.stop(process)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) ``pid`` has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Return the resident set size of ``pid`` in kB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """One uvicorn process serving benchmarks.asgi, with a keep-alive HTTP connection to its bench endpoints."""

    application = "benchmarks.asgi:application"

    def __init__(self, processes: Processes, env: dict[str, str], log_file: Any) -> None:
        self.port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", self.application,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ws", WS_IMPLEMENTATION, "--ws-per-message-deflate", "false", "--ws-ping-interval", "0",
            "--no-access-log", "--log-level", "warning", "--backlog", "4096", "--lifespan", "off",
        ]  # fmt: skip
        self.process = processes.start(command, env=env, stderr=log_file)
        self.pid = self.process.pid
        self.http: http.client.HTTPConnection | None = None
        self.http_used = 0.0

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        """Send one request (from a thread) and return the JSON answer.

        The connection is kept alive between the closely spaced targeted calls, and
        reopened after a pause (uvicorn closes idle keep-alive connections after 5 s).
        """
        if self.http is not None and time.monotonic() - self.http_used > 2:
            self.http.close()
            self.http = None
        if self.http is None:
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self.http.timeout = timeout
        if self.http.sock is not None:
            self.http.sock.settimeout(timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            self.http.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = self.http.getresponse()
            data = response.read()
        except Exception:
            self.http.close()
            self.http = None
            raise
        self.http_used = time.monotonic()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
        return json.loads(data)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, limit: float = 30) -> Any:
        return await asyncio.to_thread(self.request, method, path, body, limit)


class ClientProcess:
    """A benchmarks/client.py process, driven by JSON lines."""

    def __init__(self, processes: Processes, env: dict[str, str], targets_path: Path, log_file: Any) -> None:
        command = [sys.executable, str(ROOT / "benchmarks" / "client.py"), str(targets_path)]
        self.process = processes.start(command, env=env, stderr=log_file, pipes=True)

    def _exchange(self, command: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"client process {self.process.pid} exited with {self.process.poll()}")
        return json.loads(line)

    async def send(self, command: dict[str, Any], limit: float) -> Any:
        return await asyncio.wait_for(asyncio.to_thread(self._exchange, command), limit)


# Database --------------------------------------------------------------------------------


def prepare_database(path: Path, count: int, url: str | None = None) -> list[tuple[int, str]]:
    """Migrate a fresh SQLite file (or the emptied database at ``url``), create ``count`` users and a
    logged-in session for each, in bulk.

    Return ``[(user_id, session_key), ...]``. Sessions are encoded the way login() stores
    them (user id, backend, session auth hash), without a login per user.
    """
    if url:
        os.environ["BENCH_DATABASE_URL"] = url
    else:
        os.environ["BENCH_DB"] = str(path)
    os.environ["BENCH_LAYER"] = "memory"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    call_command("migrate", verbosity=0, interactive=False)
    if url:
        call_command("flush", verbosity=0, interactive=False)
    user_model = get_user_model()
    password = make_password("bench")
    with transaction.atomic():
        user_model.objects.bulk_create(
            [user_model(username=f"bench{index:06d}", password=password) for index in range(count)],
            batch_size=1000,
        )
    users = list(user_model.objects.order_by("pk"))
    store = SessionStore()
    backend = "django.contrib.auth.backends.ModelBackend"
    expires = timezone.now() + datetime.timedelta(days=1)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    pairs = []
    sessions = []
    for user in users:
        key = get_random_string(32, alphabet)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        pairs.append((user.pk, key))
    with transaction.atomic():
        Session.objects.bulk_create(sessions, batch_size=1000)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
    connection.close()
    return pairs


def empty_notifications() -> None:
    """Delete every notification: a database given by URL is shared by the scenarios, one after the other."""
    from django.db import connection

    from benchmarks.tables import empty_notifications as empty

    empty()
    connection.close()


def mint_tokens(user_ids: list[int]) -> dict[int, str]:
    """Return a socket token per user (django_live_notify.tokens), signed as the servers check them."""
    from django_live_notify.tokens import make_token

    return {user_id: make_token(SimpleNamespace(pk=user_id)) for user_id in user_ids}


# Measurements ----------------------------------------------------------------------------


def percentile(values: list[float], rank: float) -> float | None:
    """Return the nearest-rank percentile of ``values`` (100 = the largest), or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(rank / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Scenario:
    layer: str
    kind: str
    clients: int
    servers: int = 1
    auth: str = "cookie"
    shards: int = 1
    connect_s: float | None = None
    opened: int = 0
    failed: int = 0
    connect_errors: dict[str, int] = field(default_factory=dict)
    handshake_p99_ms: float | None = None
    rss_kb: float | None = None
    rss_marginal_kb: float | None = None
    connect_cpu_ms: float | None = None
    broadcast_cpu_s: float | None = None
    client_broadcast_cpu_s: float | None = None
    targeted: list[float] = field(default_factory=list)
    targeted_sent: int = 0
    targeted_lost: int = 0
    targeted_unexpected: int = 0
    broadcast: list[float] = field(default_factory=list)
    broadcast_expected: int = 0
    broadcast_lost: int = 0
    broadcast_capped: bool = False
    broadcast_call_s: float | None = None
    broadcast_fanout_s: float | None = None
    broadcast_unexpected: int = 0
    closed_during_run: dict[str, int] = field(default_factory=dict)
    server_counts: list[int] = field(default_factory=list)
    # Per server process: RSS per socket held (KB) and CPU over the run (s); per Redis: CPU (s) and RSS (MB).
    server_rss_per_socket_kb: list[float] = field(default_factory=list)
    server_cpu_s: list[float] = field(default_factory=list)
    redis_cpu_s: list[float] = field(default_factory=list)
    redis_rss_mb: list[float] = field(default_factory=list)
    error: str | None = None
    # --acks: whether clients ack and the server records it, and what the broadcast's acks cost.
    acks: bool = False
    ack_batches: int = 0
    ack_rows: int = 0
    ack_reports: int = 0
    ack_db_s: float = 0.0
    ack_drain_s: float | None = None
    ack_cpu_s: float | None = None
    # --single: this scenario is the one-process run of 10,000 sockets, or the scale-out run measured against it.
    single: bool = False
    single_run: Scenario | None = None

    @property
    def name(self) -> str:
        return f"{self.layer}-{self.kind}" + ("-acks" if self.acks else "") + ("-single" if self.single else "")

    @property
    def targets(self) -> dict[str, float]:
        if self.clients <= 10_000:
            return TARGETS[self.layer]
        single = self.single_run
        if single is None or single.connect_s is None or single.rss_kb is None:
            return SCALE_TARGETS
        # The issue's own definitions, from the one-process run in this same run.
        return {
            **SCALE_TARGETS,
            "connect_s": 3 * single.connect_s * self.clients / single.clients,
            "rss_kb": single.rss_kb * (1 + RSS_RESOLUTION),
        }

    @property
    def lost(self) -> int:
        return self.targeted_lost + self.broadcast_lost


async def gather_answers(clients: list[ClientProcess], commands: list[dict[str, Any]], limit: float) -> list[Any]:
    """Send one command to each client process at once; return their answers (within ``limit`` seconds)."""
    sends = (client.send(command, limit) for client, command in zip(clients, commands, strict=True))
    return await asyncio.gather(*sends)


async def connect_clients(
    result: Scenario, clients: list[ClientProcess], count: int | None, concurrency: int
) -> tuple[float, list[Any]]:
    """Open ``count`` more sockets per client process (all the rest when None); return the seconds it took."""
    command = {"cmd": "connect", "concurrency": concurrency, "timeout": CONNECT_TIMEOUT - 10, "count": count}
    answers = await gather_answers(clients, [command] * len(clients), CONNECT_TIMEOUT)
    result.opened = sum(answer["opened"] for answer in answers)
    result.failed = sum(answer["failed"] for answer in answers)
    result.connect_errors = {}
    for answer in answers:
        for error, number in answer["errors"].items():
            result.connect_errors[error] = result.connect_errors.get(error, 0) + number
    p99 = [answer["handshake_p99"] for answer in answers if answer["handshake_p99"] is not None]
    if p99:
        result.handshake_p99_ms = max(p99) * 1000
    return max(answer["finished"] for answer in answers) - min(answer["started"] for answer in answers), answers


def open_sockets(servers: list[Server], kind: str) -> int:
    """Return how many ``kind`` sockets the servers hold, asked on connections of its own (not ``Server.http``)."""
    count = 0
    for server in servers:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            connection.request("GET", "/bench/stats/")
            count += json.loads(connection.getresponse().read())[kind]
        finally:
            connection.close()
    return count


async def report_connects(
    result: Scenario, servers: list[Server], began: float, done: asyncio.Event, args: argparse.Namespace
) -> None:
    """Print how many clients are connected every PROGRESS_EVERY seconds, until ``done`` is set."""
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), PROGRESS_EVERY)
            return
        try:
            connected = await asyncio.to_thread(open_sockets, servers, result.kind)
        except (OSError, ValueError, KeyError):
            continue  # A busy server may not answer in time; the next report will tell.
        elapsed = time.monotonic() - began
        progress(args, f"[{result.name}] connected {connected:,}/{result.clients:,} clients in {elapsed:.1f} s")


async def settle(servers: list[Server], limit: float = 20.0) -> float:
    """Wait until the servers use less than a fifth of a core together (or ``limit`` s passed); return the wait.

    The clients count a socket as open at its handshake, but each then sends ``resume``, which its server
    answers from the database: at 10,000 sockets per process the last answers come seconds later, and a targeted
    notification sent meanwhile waits behind them (it measured up to 3 s). The targeted figures are for sockets
    that are connected and quiet, as most are most of the time.
    """
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = sum(cpu_seconds(server.pid) for server in servers)
        await asyncio.sleep(0.5)
        if sum(cpu_seconds(server.pid) for server in servers) - before < 0.1:
            break
    return time.monotonic() - began


async def wait_for_sweeps(servers: list[Server]) -> float | None:
    """Wait until each django-live-notify server finished a sweep begun after now; return the wait (None: no hub).

    A server keeps per-socket state that only its sweep builds (the session re-check's cache, see
    session_check.py), every SWEEP seconds. A run whose handshakes span a sweep or two would carry it, and a
    shorter run would not: memory is compared in the steady state, with it, for every run.
    """
    began = time.monotonic()
    stats = [await server.call("GET", "/bench/stats/") for server in servers]
    if not any(stat["live"] for stat in stats):
        return None
    # The sweep under way now (if any) began before now: wait for the one after it.
    pending = {index: stat["sweeps"] + 2 for index, stat in enumerate(stats)}
    while pending and time.monotonic() - began < 2 * SWEEP + 30:
        await asyncio.sleep(0.5)
        for index in list(pending):
            if (await servers[index].call("GET", "/bench/stats/"))["sweeps"] >= pending[index]:
                del pending[index]
    if pending:
        log(f"servers {sorted(pending)} finished no sweep in {time.monotonic() - began:.0f} s")
    return time.monotonic() - began


async def measure_targeted(
    result: Scenario,
    servers: list[Server],
    clients: list[ClientProcess],
    owner: dict[int, int],
    open_users: list[int],
    args: argparse.Namespace,
) -> None:
    """Notify a random sample of connected users one by one, spaced out; time each from the call to receipt."""
    sample = random.Random(args.seed).sample(open_users, min(args.targeted, len(open_users)))
    sent: dict[tuple[int, int], float] = {}
    expected = [0] * len(clients)
    for number, user_id in enumerate(sample):
        # Alternate servers: with Redis, half the notifications reach a socket held by the other process.
        server = servers[number % len(servers)]
        answer = await server.call(
            "POST", "/bench/notify/", {"user_id": user_id, "title": f"targeted {number}", "kind": result.kind}
        )
        sent[(user_id, answer["id"])] = answer["started"]
        expected[owner[user_id]] += 1
        await asyncio.sleep(args.spacing)
    result.targeted_sent = len(sent)
    commands = [{"cmd": "collect", "expect": count, "timeout": TARGETED_WAIT} for count in expected]
    answers = await gather_answers(clients, commands, TARGETED_WAIT + 30)
    received: dict[tuple[int, int], float] = {}
    for answer in answers:
        for user_id, notification_id, _title, at in answer["frames"]:
            key = (user_id, notification_id)
            if key in sent and key not in received:
                received[key] = at
            else:
                result.targeted_unexpected += 1
                log(f"[{result.name}] targeted: unexpected frame {key} {_title!r}, sent: {key in sent}")
    result.targeted = [(received[key] - started) * 1000 for key, started in sent.items() if key in received]
    result.targeted_lost = len(sent) - len(received)
    # The slowest few with the moment they were sent, to line them up with what the servers did then.
    first = min(sent.values(), default=0.0)
    slowest = sorted(((received[key] - at) * 1000, at - first) for key, at in sent.items() if key in received)[-5:]
    listed = ", ".join(f"{ms:.0f} at {at:.1f}" for ms, at in slowest)
    log(f"[{result.name}] targeted from {first:.3f} (time.time()): slowest (ms at s) {listed}")


async def measure_broadcast(
    result: Scenario, servers: list[Server], clients: list[ClientProcess], open_per_client: list[int]
) -> None:
    """Broadcast once to every user from the first server; time each socket from the call to receipt."""
    title = f"broadcast {result.name}"
    result.broadcast_expected = sum(open_per_client)
    called_at = time.time()
    call = asyncio.ensure_future(
        servers[0].call("POST", "/bench/broadcast/", {"title": title, "kind": result.kind}, limit=BROADCAST_CAP + 30)
    )
    commands = [{"cmd": "collect", "expect": count, "timeout": BROADCAST_CAP} for count in open_per_client]
    answers = await gather_answers(clients, commands, BROADCAST_CAP + 30)
    # The call answers once broadcast() returns: rows stored, counts read, the message handed over.
    await asyncio.wait([call], timeout=max(1.0, called_at + BROADCAST_CAP - time.time()))
    started = called_at
    finished = None
    if call.done() and call.exception() is None:
        started, finished = call.result()["started"], call.result()["finished"]
        result.broadcast_call_s = finished - started
    elif call.done():
        log(f"[{result.name}] broadcast call failed: {call.exception()!r}")
    else:
        call.cancel()
    receipts: dict[int, float] = {}
    for answer in answers:
        for user_id, _notification_id, frame_title, at in answer["frames"]:
            if frame_title == title and user_id not in receipts:
                receipts[user_id] = at
            else:
                result.broadcast_unexpected += 1
                log(
                    f"[{result.name}] broadcast: unexpected frame of user {user_id}, "
                    f"id {_notification_id}, {frame_title!r}"
                )
    result.broadcast = [(at - started) * 1000 for at in receipts.values()]
    if receipts and finished is not None:
        result.broadcast_fanout_s = max(receipts.values()) - finished
    missing = result.broadcast_expected - len(receipts)
    if missing and result.kind == "baseline":
        # The baseline's broadcast sends user by user and may not finish within the cap: not a loss.
        result.broadcast_capped = True
    else:
        result.broadcast_lost = missing


async def run_scenario(
    layer: str,
    kind: str,
    users: list[tuple[int, str]],
    template: Path,
    workdir: Path,
    processes: Processes,
    args: argparse.Namespace,
    acks: bool = False,
    single: bool = False,
) -> Scenario:
    """Start servers and clients for one (layer, kind), measure everything, stop them all.

    ``single``: one server process and one Redis, whatever ``args`` says (the --single reference run).
    """
    auth = args.auth if kind == "live" else "cookie"
    server_count = 1 if single else args.servers or (2 if layer in REDIS_LAYERS else 1)
    shards = args.redis_shards if layer in REDIS_LAYERS and not single else 1
    result = Scenario(layer, kind, len(users), server_count, auth, shards, acks=acks, single=single)
    name = result.name
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BENCH_LAYER": layer,
        "BENCH_ANALYTICS": "1" if acks else "0",
        "BENCH_ACK_INTERVAL": str(args.ack_interval / 1000 if acks else 0),
    }
    if args.database:
        await asyncio.to_thread(empty_notifications)
        env["BENCH_DATABASE_URL"] = args.database
    else:
        database = workdir / f"{name}.sqlite3"
        shutil.copy(template, database)
        env["BENCH_DB"] = str(database)
    log_path = workdir / f"{name}.log"
    log_file = log_path.open("w")
    shards: list[subprocess.Popen] = []
    servers: list[Server] = []
    clients: list[ClientProcess] = []
    try:
        if layer in REDIS_LAYERS:
            urls = []
            for _ in range(args.redis_shards):
                redis_port = free_port()
                shard = processes.start(
                    [args.redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--maxclients", "10000"],
                    env=env, stderr=log_file,
                )  # fmt: skip
                wait_for_port(redis_port, shard)
                shards.append(shard)
                urls.append(f"redis://127.0.0.1:{redis_port}/0")
            env["BENCH_REDIS_URL"] = ",".join(urls)
        servers = [Server(processes, env, log_file) for _ in range(result.servers)]
        for server in servers:
            wait_for_port(server.port, server.process)
            await server.call("GET", "/bench/stats/")

        # One socket per user; users alternate between servers, and each client process holds both.
        credentials = dict(users)
        targets: list[list[list[Any]]] = [[] for _ in range(args.client_processes)]
        owner: dict[int, int] = {}
        sources = max(1, -(-len(users) // SOCKETS_PER_SOURCE))
        for index, (user_id, _session_key) in enumerate(users):
            server = servers[index % len(servers)]
            client_index = (index // len(servers)) % args.client_processes
            source = f"127.0.0.{2 + index % sources}" if sources > 1 else None
            # The bare floor looks nothing up: the socket names its user.
            path = PATHS[kind] + (f"?user={user_id}" if kind == "bare" else "")
            targets[client_index].append([user_id, None, server.port, path, auth, source])
            owner[user_id] = client_index
        if auth == "token":
            # Tokens expire (TOKEN_MAX_AGE): minted just before the connect phase.
            credentials = await asyncio.to_thread(mint_tokens, [user_id for user_id, _ in users])
        for client_index, client_targets in enumerate(targets):
            for target in client_targets:
                target[1] = credentials[target[0]]
            targets_path = workdir / f"{name}-clients-{client_index}.json"
            targets_path.write_text(json.dumps(client_targets))
            clients.append(ClientProcess(processes, env, targets_path, log_file))
        await asyncio.sleep(1)
        rss_before = [rss_kb(server.pid) for server in servers]
        server_cpu_before = [cpu_seconds(server.pid) for server in servers]
        redis_cpu_before = [cpu_seconds(shard.pid) for shard in shards]

        # Connect all: a first 1% (for the marginal memory figure), then the rest.
        log(
            f"[{name}] connecting {len(users)} clients ({auth}) to {len(servers)} server(s) "
            f"from {len(clients)} process(es)"
        )
        gc_before = await gc_seconds(servers)
        cpu_before = sum(cpu_seconds(server.pid) for server in servers)
        profiler = profile(args, servers[0], workdir, f"{name}-connect")
        began = time.monotonic()
        warm_up = max(1, round(len(users) * WARM_UP_SHARE / len(clients)))
        warm_up_s, _ = await connect_clients(result, clients, warm_up, args.concurrency)
        warm_opened = result.opened
        await asyncio.sleep(1)
        rss_warm = [rss_kb(server.pid) for server in servers]
        # With --quiet nothing polls the servers while they take the handshakes.
        connected = asyncio.Event()
        reporter = None
        if not args.quiet:
            reporter = asyncio.create_task(report_connects(result, servers, began, connected, args))
        try:
            rest_s, answers = await connect_clients(result, clients, None, args.concurrency)
        finally:
            connected.set()
            if reporter is not None:
                await reporter
        result.connect_s = warm_up_s + rest_s
        stop_profile(profiler)
        if result.opened:
            result.connect_cpu_ms = (
                (sum(cpu_seconds(server.pid) for server in servers) - cpu_before) * 1000 / result.opened
            )
            connect_gc = await gc_seconds(servers) - gc_before
            without_gc = result.connect_cpu_ms - connect_gc * 1000 / result.opened
            log(
                f"[{name}] connect: server CPU {result.connect_cpu_ms * result.opened / 1000:.2f} s, of it "
                f"{connect_gc:.2f} s in the garbage collector; without it {without_gc:.2f} ms per socket"
            )
        open_users = [user_id for answer in answers for user_id in answer["open_users"]]
        open_per_client = [len(answer["open_users"]) for answer in answers]
        log(
            f"[{name}] {result.opened} open, {result.failed} failed in {result.connect_s:.1f} s"
            + (f"; errors: {result.connect_errors}" if result.connect_errors else "")
        )
        swept = await wait_for_sweeps(servers)
        if swept is not None:
            log(f"[{name}] every server swept all its sockets {swept:.1f} s after the last handshake")
        await asyncio.sleep(2)
        settled = await settle(servers)
        log(f"[{name}] servers idle {settled:.1f} s later (the handshakes' resumes answered)")
        rss_after = [rss_kb(server.pid) for server in servers]
        stats = [await server.call("GET", "/bench/stats/") for server in servers]
        result.server_counts = [stat[kind] for stat in stats]
        if result.opened:
            result.rss_kb = (sum(rss_after) - sum(rss_before)) / result.opened
        if result.opened > warm_opened:
            result.rss_marginal_kb = (sum(rss_after) - sum(rss_warm)) / (result.opened - warm_opened)
        log(
            f"[{name}] server RSS {mb(rss_before)} -> {mb(rss_warm)} after {warm_opened} -> {mb(rss_after)} MB; "
            f"sockets per server {result.server_counts}"
        )

        if args.objects:
            for server in servers:
                objects = (await server.call("GET", "/bench/stats/?objects=1"))["objects"]
                per_socket = objects["tracked"] / max(1, stats[0][kind])
                tracked = objects["tracked"]
                log(f"[{name}] GC-tracked objects: {tracked} ({per_socket:.0f} per socket); {objects['types']}")
                log(f"[{name}] suspended coroutines: {objects.get('coroutines')}")
        progress(args, f"[{name}] sending {args.targeted} targeted notifications, {args.spacing * 1000:.0f} ms apart")
        await measure_targeted(result, servers, clients, owner, open_users, args)
        log(
            f"[{name}] targeted: {result.targeted_sent - result.targeted_lost}/{result.targeted_sent} received, "
            f"p50 {fmt_ms(percentile(result.targeted, 50))}, p99 {fmt_ms(percentile(result.targeted, 99))}"
        )
        cpu_before = sum(cpu_seconds(server.pid) for server in servers)
        if acks:
            # The targeted notifications' acks are written first, so that what follows counts the broadcast's only.
            await asyncio.sleep(args.ack_interval / 1000 + 1)
            cpu_before = sum(cpu_seconds(server.pid) for server in servers)
        acks_before = await ack_counts(servers)
        progress(args, f"[{name}] broadcasting to {sum(open_per_client):,} sockets (up to {BROADCAST_CAP:.0f} s)")
        broadcast_began = time.time()
        client_cpu_before = sum(cpu_seconds(client.process.pid) for client in clients)
        profiler = profile(args, servers[0], workdir, f"{name}-broadcast")
        await measure_broadcast(result, servers, clients, open_per_client)
        stop_profile(profiler)
        result.broadcast_cpu_s = sum(cpu_seconds(server.pid) for server in servers) - cpu_before
        # The load generator's share of the two cores while the broadcast was under way.
        result.client_broadcast_cpu_s = sum(cpu_seconds(client.process.pid) for client in clients) - client_cpu_before
        if acks:
            await measure_acks(result, servers, acks_before, broadcast_began)
            result.ack_cpu_s = sum(cpu_seconds(server.pid) for server in servers) - cpu_before
            log(
                f"[{name}] acks: {result.ack_rows} rows set by {result.ack_batches} batch(es) of a SELECT and an "
                f"UPDATE ({result.ack_reports} ack frames), all written {fmt(result.ack_drain_s, 2)} s after the call"
            )
        log(
            f"[{name}] broadcast: {len(result.broadcast)}/{result.broadcast_expected} received, "
            f"last after {fmt_ms(max(result.broadcast, default=None))}"
            + (f" (capped at {BROADCAST_CAP:.0f} s)" if result.broadcast_capped else "")
        )

        result.server_cpu_s = [
            round(cpu_seconds(server.pid) - before, 2)
            for server, before in zip(servers, server_cpu_before, strict=True)
        ]
        result.server_rss_per_socket_kb = [
            round((after - before) / count, 1) if count else 0.0
            for after, before, count in zip(rss_after, rss_before, result.server_counts, strict=True)
        ]
        result.redis_cpu_s = [
            round(cpu_seconds(shard.pid) - before, 2) for shard, before in zip(shards, redis_cpu_before, strict=True)
        ]
        result.redis_rss_mb = [round(rss_kb(shard.pid) / 1024, 1) for shard in shards]
        if len(servers) > 1 or shards:
            log(
                f"[{name}] per server: sockets {result.server_counts}, KB per socket "
                f"{result.server_rss_per_socket_kb}, CPU {result.server_cpu_s} s; per Redis shard: CPU "
                f"{result.redis_cpu_s} s, RSS {result.redis_rss_mb} MB"
            )

        gc_stats = [(await server.call("GET", "/bench/stats/"))["gc"] for server in servers]
        log(
            f"[{name}] GC per server, generation 2: "
            + "; ".join(
                f"{stat['count'][2]} collections, longest {stat['longest'][2] * 1000:.0f} ms, "
                f"{stat['seconds'][2]:.2f} s in all (generations 0-1: {sum(stat['seconds'][:2]):.2f} s)"
                for stat in gc_stats
            )
        )

        # Sockets that closed during the run (idle reaping, errors) count against the server.
        statuses = await gather_answers(clients, [{"cmd": "status"}] * len(clients), 30)
        for status in statuses:
            for code, count in status["closed"].items():
                result.closed_during_run[code] = result.closed_during_run.get(code, 0) + count
    except Exception as error:
        result.error = f"{type(error).__name__}: {error}"
        log(f"[{name}] FAILED: {result.error} (server log: {log_path})")
    finally:
        # Clients first (their exit closes every socket at once), then servers, then Redis.
        for client in clients:
            with contextlib.suppress(Exception):
                client.process.stdin.write(b'{"cmd": "quit"}\n')
                client.process.stdin.flush()
        for client in clients:
            processes.stop(client.process)
        for server in servers:
            if server.http is not None:
                server.http.close()
            processes.kill(server.process)
        for shard in shards:
            processes.stop(shard)
        log_file.close()
        clean_up(workdir, name, log_path)
    return result


async def gc_seconds(servers: list[Server]) -> float:
    """Return the seconds the servers spent in their garbage collectors so far."""
    total = 0.0
    for server in servers:
        total += sum((await server.call("GET", "/bench/stats/"))["gc"]["seconds"])
    return total


def profile(args: argparse.Namespace, server: Server, workdir: Path, name: str) -> subprocess.Popen | None:
    """Start sampling ``server`` with py-spy (``--profile DIR``) into ``DIR/name.txt``, collapsed stacks."""
    if not args.profile:
        return None
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    command = [args.py_spy, "record", "--pid", str(server.pid), "--rate", "250", "--nonblocking", "--format", "raw",
               "--output", str(Path(args.profile) / f"{name}.txt")]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop_profile(profiler: subprocess.Popen | None) -> None:
    """Stop py-spy; it writes its file on SIGINT."""
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()


async def ack_counts(servers: list[Server]) -> dict[str, float]:
    """Return the ack counters of benchmarks/urls.py, summed over the servers."""
    total: dict[str, float] = {"batches": 0, "reports": 0, "rows": 0, "seconds": 0.0}
    for server in servers:
        for key, value in (await server.call("GET", "/bench/stats/"))["acks"].items():
            total[key] += value
    return total


async def measure_acks(
    result: Scenario, servers: list[Server], before: dict[str, float], began: float, limit: float = 30
) -> None:
    """Wait until the broadcast's acks are written (one row per socket that received it); record their cost."""
    expected = len(result.broadcast)
    while True:
        now = await ack_counts(servers)
        if now["rows"] - before["rows"] >= expected or time.time() - began > BROADCAST_CAP + limit:
            break
        await asyncio.sleep(0.05)
    result.ack_drain_s = time.time() - began
    result.ack_batches = int(now["batches"] - before["batches"])
    result.ack_reports = int(now["reports"] - before["reports"])
    result.ack_rows = int(now["rows"] - before["rows"])
    result.ack_db_s = now["seconds"] - before["seconds"]


def report_acks(pairs: list[tuple[Scenario, Scenario]]) -> list[str]:
    """Print the figures with analytics on next to those with it off; return what went wrong."""
    problems: list[str] = []
    header = f"{'layer':<10} {'figure':<36} {'acks on':>11} {'acks off':>11} {'ratio':>7}"
    log("")
    log(header)
    log("-" * len(header))
    for on, off in pairs:
        layer = f"{on.layer} x{on.servers}"
        table = Table(layer)
        for scenario in (on, off):
            if scenario.error:
                problems.append(f"{layer}: the {scenario.name} scenario failed: {scenario.error}")
            if scenario.lost:
                problems.append(f"{layer}: {scenario.name} LOST {scenario.lost} message(s)")
        for label, rank in (("p50", 50), ("p99", 99)):
            on_value, off_value = percentile(on.targeted, rank), percentile(off.targeted, rank)
            table.row(f"targeted {label} (ms)", fmt(on_value), fmt(off_value), ratio(on_value, off_value))
        for label, rank in (("p50", 50), ("p99", 99), ("max", 100)):
            on_value, off_value = percentile(on.broadcast, rank), percentile(off.broadcast, rank)
            table.row(f"broadcast {label} (ms, n={on.broadcast_expected})", fmt(on_value), fmt(off_value),
                      ratio(on_value, off_value))  # fmt: skip
        table.row("  server CPU for the broadcast (s)", fmt(on.broadcast_cpu_s, 2), fmt(off.broadcast_cpu_s, 2),
                  ratio(on.broadcast_cpu_s, off.broadcast_cpu_s))  # fmt: skip
        table.row("  ... and until its acks are written", fmt(on.ack_cpu_s, 2), "-")
        table.row("acks written (rows)", str(on.ack_rows), "-")
        table.row("  ack frames", str(on.ack_reports), "-")
        table.row("  write batches (SELECT + UPDATE)", str(on.ack_batches), "-")
        per_batch = on.ack_rows / on.ack_batches if on.ack_batches else None
        table.row("  rows per batch", fmt(per_batch), "-")
        window = on.ack_drain_s
        table.row("  all written after the call (s)", fmt(window, 2), "-")
        table.row("  queries per second, over that", fmt(2 * on.ack_batches / window if window else None), "-")
        table.row("  database thread time in them (s)", fmt(on.ack_db_s, 3), "-")
        if on.ack_rows < len(on.broadcast):
            problems.append(f"{layer}: only {on.ack_rows} of {len(on.broadcast)} acks were written")
        log("")
    return problems


def clean_up(workdir: Path, name: str, log_path: Path) -> None:
    """Delete a scenario's database; point at errors its processes logged."""
    for path in workdir.glob(f"{name}.sqlite3*"):
        path.unlink()
    errors = [line for line in log_path.read_text().splitlines() if "Error" in line or "Exception" in line]
    if errors:
        log(f"[{name}] the server log has {len(errors)} error line(s), e.g. {errors[0][:150]!r} ({log_path})")


# Report ----------------------------------------------------------------------------------


def mb(values: list[int]) -> list[float]:
    return [round(kb / 1024, 1) for kb in values]


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(live: float | None, baseline: float | None, baseline_capped: bool = False) -> str:
    if live is None or baseline is None:
        return "-"
    if baseline == 0:
        return "-" if live == 0 else "inf"
    return f"{'< ' if baseline_capped else ''}{live / baseline:.2f}"


class Table:
    """Rows of one layer: figure, django-live-notify, baseline, ratio, target, met."""

    def __init__(self, layer: str) -> None:
        self.layer = layer

    def row(self, figure: str, live: str, base: str, ratio_text: str = "-", target: str = "", ok: bool | None = None):
        mark = "" if ok is None else ("yes" if ok else "NO")
        log(f"{self.layer:<10} {figure:<36} {live:>11} {base:>11} {ratio_text:>7}  {target:<10} {mark}")


def report(pairs: list[tuple[Scenario, Scenario | None]]) -> list[str]:
    """Print the table; return the missed targets and the losses of django-live-notify."""
    problems: list[str] = []
    header = f"{'layer':<10} {'figure':<36} {'live-notify':>11} {'baseline':>11} {'ratio':>7}  {'target':<10} met"
    log("")
    log(header)
    log("-" * len(header))
    capped_text = f"> {BROADCAST_CAP * 1000:.0f}"
    for live, baseline in pairs:
        layer = f"{live.layer} x{live.servers}" + (f"/{live.shards} shards" if live.shards > 1 else "")
        table = Table(layer)
        target = live.targets
        if live.error:
            problems.append(f"{layer}: the django-live-notify scenario failed: {live.error}")
        if baseline is not None and baseline.error:
            log(f"{layer:<10} the baseline scenario failed: {baseline.error}")
        base = baseline or Scenario(live.layer, "baseline", 0)
        if baseline is not None and baseline.kind == "bare":
            log(f"{layer:<10} baseline column: the bare floor (benchmarks/bare.py), not the Channels consumer")

        ok = live.connect_s is not None and live.connect_s < target["connect_s"]
        table.row(f"connect all {live.clients}, {live.auth} (s)", fmt(live.connect_s), fmt(base.connect_s),
                  ratio(live.connect_s, base.connect_s), f"< {target['connect_s']:.0f} s", ok)  # fmt: skip
        if not ok:
            problems.append(f"{layer}: connecting all took {fmt(live.connect_s)} s (target < {target['connect_s']} s)")
        ok = live.failed == 0 and live.opened == live.clients
        table.row("connect failures", str(live.failed), str(base.failed), target="0", ok=ok)
        if not ok:
            problems.append(f"{layer}: {live.failed} connect failure(s): {live.connect_errors}")
        table.row("  server CPU per connect (ms)", fmt(live.connect_cpu_ms, 2), fmt(base.connect_cpu_ms, 2),
                  ratio(live.connect_cpu_ms, base.connect_cpu_ms))  # fmt: skip
        table.row("  handshake p99 (ms)", fmt(live.handshake_p99_ms), fmt(base.handshake_p99_ms),
                  ratio(live.handshake_p99_ms, base.handshake_p99_ms))  # fmt: skip
        ok = live.rss_kb is not None and live.rss_kb <= target["rss_kb"]
        table.row("server RSS per connection (KB)", fmt(live.rss_kb), fmt(base.rss_kb),
                  ratio(live.rss_kb, base.rss_kb), f"<= {target['rss_kb']:.1f} KB", ok)  # fmt: skip
        if not ok:
            problems.append(f"{layer}: {fmt(live.rss_kb)} KB per connection (target <= {target['rss_kb']:.1f} KB)")
        table.row("  marginal, after the first 1% (KB)", fmt(live.rss_marginal_kb), fmt(base.rss_marginal_kb),
                  ratio(live.rss_marginal_kb, base.rss_marginal_kb))  # fmt: skip

        for label, rank in (("p50", 50), ("p99", 99), ("max", 100)):
            live_value, base_value = percentile(live.targeted, rank), percentile(base.targeted, rank)
            target_text, ok = "", None
            if rank == 99:
                ok = live_value is not None and live_value < target["targeted_p99_ms"]
                target_text = f"< {target['targeted_p99_ms']:.0f} ms"
                if not ok:
                    problems.append(
                        f"{layer}: targeted p99 {fmt_ms(live_value)} (target < {target['targeted_p99_ms']} ms)"
                    )
            table.row(f"targeted {label} (ms, n={live.targeted_sent})", fmt(live_value), fmt(base_value),
                      ratio(live_value, base_value), target_text, ok)  # fmt: skip

        for label, rank in (("first", 0), ("p50", 50), ("p99", 99), ("max", 100)):
            live_value = percentile(live.broadcast, rank) if rank else min(live.broadcast, default=None)
            base_value = percentile(base.broadcast, rank) if rank else min(base.broadcast, default=None)
            # The capped baseline has no figure for ranks beyond the share of sockets it reached.
            base_capped = base.broadcast_capped and len(base.broadcast) < base.broadcast_expected * rank / 100
            target_text, ok = "", None
            if rank == 100:
                ok = live_value is not None and live_value < target["broadcast_max_ms"] and not live.broadcast_lost
                target_text = f"< {target['broadcast_max_ms']:.0f} ms"
                if not ok:
                    problems.append(
                        f"{layer}: broadcast reached the last socket after {fmt_ms(live_value)} "
                        f"(target < {target['broadcast_max_ms']} ms)"
                    )
            table.row(f"broadcast {label} (ms, n={live.broadcast_expected})", fmt(live_value),
                      capped_text if base_capped else fmt(base_value),
                      ratio(live_value, BROADCAST_CAP * 1000 if base_capped else base_value, base_capped),
                      target_text, ok)  # fmt: skip
        base_call = f"> {BROADCAST_CAP:.0f}" if base.broadcast_capped and base.broadcast_call_s is None else None
        table.row("  broadcast() returned (s)", fmt(live.broadcast_call_s, 2),
                  base_call or fmt(base.broadcast_call_s, 2),
                  ratio(live.broadcast_call_s, BROADCAST_CAP if base_call else base.broadcast_call_s,
                        bool(base_call)))  # fmt: skip
        table.row("  server CPU for the broadcast (s)", fmt(live.broadcast_cpu_s, 2), fmt(base.broadcast_cpu_s, 2),
                  ratio(live.broadcast_cpu_s, base.broadcast_cpu_s))  # fmt: skip
        table.row("  client CPU for the broadcast (s)", fmt(live.client_broadcast_cpu_s, 2),
                  fmt(base.client_broadcast_cpu_s, 2),
                  ratio(live.client_broadcast_cpu_s, base.client_broadcast_cpu_s))  # fmt: skip
        # The baseline sends while it stores, so its last socket is served before the call returns.
        base_fanout = "in call" if base.broadcast_fanout_s is not None and base.kind == "baseline" else None
        table.row("  last receipt - return (s)", fmt(live.broadcast_fanout_s, 2),
                  base_fanout or fmt(base.broadcast_fanout_s, 2))  # fmt: skip
        table.row("messages lost", str(live.lost), str(base.lost), target="0", ok=live.lost == 0)
        if live.lost:
            problems.append(
                f"{layer}: LOST {live.lost} message(s): {live.targeted_lost} targeted, {live.broadcast_lost} broadcast"
            )
        if base.lost:
            log(f"{layer:<10} WARNING: the baseline lost {base.lost} message(s)")
        unexpected = live.targeted_unexpected + live.broadcast_unexpected
        base_unexpected = base.targeted_unexpected + base.broadcast_unexpected
        table.row(
            "unexpected or duplicate frames", str(unexpected), str(base_unexpected), target="0", ok=not unexpected
        )
        if unexpected:
            problems.append(f"{layer}: {unexpected} unexpected or duplicate notification frame(s)")
        closed = sum(live.closed_during_run.values())
        table.row("sockets closed during the run", str(closed), str(sum(base.closed_during_run.values())),
                  target="0", ok=closed == 0)  # fmt: skip
        if closed:
            problems.append(
                f"{layer}: {closed} socket(s) closed during the run, by close code: {live.closed_during_run}"
            )
        log("")
    return problems


# Main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000, help="sockets (one user each); default 10000")
    parser.add_argument(
        "--layers", default="memory,redis", help="comma-separated: memory, redis, redis-pubsub; default memory,redis"
    )
    parser.add_argument(
        "--servers", type=int, help="uvicorn processes per scenario; default 1 in memory, 2 on the redis layers"
    )
    parser.add_argument("--redis-shards", type=int, default=1, help="redis-server processes (shards); default 1")
    parser.add_argument(
        "--database",
        help="database URL (postgres://..., mysql://...) to use instead of SQLite files; everything in it is "
        "deleted first",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test with 500 clients")
    parser.add_argument(
        "--client-processes",
        type=int,
        help="client processes; default 2, or one per 10,000 clients (each holds a socket per client)",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight per client process")
    parser.add_argument("--spacing", type=float, default=0.005, help="seconds between targeted notify() calls")
    parser.add_argument("--targeted", type=int, default=200, help="targeted notifications (one per user)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the targeted sample")
    parser.add_argument(
        "--auth",
        choices=["cookie", "token"],
        default="cookie",
        help="how django-live-notify sockets authenticate: session cookie (default) or socket token",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (no ratios)")
    parser.add_argument(
        "--single",
        action="store_true",
        help="with more than 10,000 clients: the baseline column is django-live-notify itself on one process with "
        "10,000 sockets (one Redis), run first; the connect target becomes 3x its time per 10,000 and the memory "
        "target its KB per socket",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="compare with the bare floor (benchmarks/bare.py: a plain ASGI socket on the same server) instead of "
        "the Channels baseline",
    )
    parser.add_argument(
        "--objects", action="store_true", help="count the objects the garbage collector tracks once connected"
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the (first) server with py-spy during the connect and broadcast "
        "phases; collapsed stacks go to DIR",
    )
    parser.add_argument(
        "--acks",
        action="store_true",
        help="measure analytics: django-live-notify with acks on against acks off, instead of the baseline",
    )
    parser.add_argument("--ack-interval", type=int, default=250, help="ms clients gather acks with --acks (250)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr; the results still print")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients = 500
    args.layers = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
    for layer in args.layers:
        if layer not in TARGETS:
            parser.error(f"unknown layer {layer!r}; use memory, redis and/or redis-pubsub")
    if args.client_processes is None:
        args.client_processes = max(2, -(-args.clients // 10_000))
    if (args.servers is not None and args.servers < 1) or args.redis_shards < 1:
        parser.error("--servers and --redis-shards must be at least 1")
    if "memory" in args.layers and (args.servers or 1) > 1:
        parser.error("the memory layer cannot reach across processes: give --servers only with redis layers")
    if args.single and (args.clients <= 10_000 or args.acks or args.floor):
        parser.error("--single compares a run of more than 10,000 clients with one process (not with --acks, --floor)")
    args.redis_server = shutil.which("redis-server")
    args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if args.profile and not Path(args.py_spy).exists():
        parser.error("--profile needs py-spy (pip install py-spy)")
    if set(args.layers) & set(REDIS_LAYERS) and args.redis_server is None:
        parser.error("the redis layers need redis-server on PATH")
    return args


def source_description() -> str:
    """Describe the code measured: the git commit of ROOT and whether the package differs from it."""
    note = os.environ.get("BENCH_SOURCE", "")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "django_live_notify"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return f"{ROOT} (not a git checkout){'; ' + note if note else ''}"
    changed = [line[3:] for line in changed if line.strip()]
    dirty = f" with uncommitted changes to {', '.join(changed)}" if changed else ""
    return f"{ROOT} at {commit}{dirty}{'; ' + note if note else ''}"


def versions() -> str:
    """Name the versions measured, and the event loop and HTTP parser uvicorn picks ("auto")."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    names = ["django", "channels", "channels-redis", "redis", "uvicorn", "websockets"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    loop = f"uvloop {version('uvloop')}" if find_spec("uvloop") else "asyncio loop"
    parser = f"httptools {version('httptools')}" if find_spec("httptools") else "h11"
    return f"{', '.join(found)}; uvicorn with {loop}, {parser}, --ws {WS_IMPLEMENTATION}"


async def main(args: argparse.Namespace, processes: Processes, workdir: Path) -> int:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    log(f"django-live-notify scale benchmark, {now}")
    log(
        f"{args.clients} clients, layers {', '.join(args.layers)}; {os.cpu_count()} CPUs, "
        f"load {', '.join(f'{load:.2f}' for load in os.getloadavg())}; Python {platform.python_version()}; "
        f"{versions()}; {args.client_processes} client process(es), "
        f"{args.concurrency} handshakes in flight each; targeted: {args.targeted} notify() calls "
        f"{args.spacing * 1000:.0f} ms apart"
    )
    log(f"source: {source_description()}")
    template = workdir / "template.sqlite3"
    began = time.monotonic()
    progress(args, f"creating {args.clients:,} users and sessions")
    users = await asyncio.to_thread(prepare_database, template, args.clients, args.database)
    where = "SQLite files (WAL), one copy per scenario"
    if args.database:
        url = urllib.parse.urlsplit(args.database)
        where = f"{url.scheme}://{url.hostname}:{url.port or ''}{url.path}, emptied of notifications per scenario"
    log(f"database: {where}; {len(users)} users and sessions in {time.monotonic() - began:.1f} s")
    if args.acks:
        ack_pairs = []
        for layer in args.layers:
            off = await run_scenario(layer, "live", users, template, workdir, processes, args, acks=False)
            on = await run_scenario(layer, "live", users, template, workdir, processes, args, acks=True)
            ack_pairs.append((on, off))
        problems = report_acks(ack_pairs)
        log("ratio = acks on / acks off in this run; acks are written a SELECT and an UPDATE per batch of sockets.")
        for problem in problems:
            log(f"  - {problem}")
        return 1 if problems else 0
    pairs: list[tuple[Scenario, Scenario | None]] = []
    for layer in args.layers:
        if args.single:
            single_args = argparse.Namespace(**{**vars(args), "client_processes": 2})
            single = await run_scenario(
                layer, "live", users[:10_000], template, workdir, processes, single_args, single=True
            )
        live = await run_scenario(layer, "live", users, template, workdir, processes, args)
        baseline = None
        if args.single:
            live.single_run = baseline = single
        elif not args.no_baseline:
            kind = "bare" if args.floor else "baseline"
            baseline = await run_scenario(layer, kind, users, template, workdir, processes, args)
        pairs.append((live, baseline))
    problems = report(pairs)
    what = "the bare floor, benchmarks/bare.py" if args.floor else "plain Channels consumer"
    log(f"ratio = django-live-notify / baseline ({what}) in this run; below 1 is better everywhere.")
    if problems:
        log("FAILED:")
        for problem in problems:
            log(f"  - {problem}")
        return 1
    log("All targets met; no message lost.")
    return 0


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    processes = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="live-notify-bench-"))

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return asyncio.run(main(args, processes, workdir))
    except KeyboardInterrupt:
        log("interrupted; stopping every process started")
        return 130
    finally:
        processes.stop_all()
        if os.environ.get("BENCH_KEEP_LOGS"):
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run())
