"""Real faults under load: Redis (or one of two shards) killed and restarted, a server killed, the database locked.

Each test runs a uvicorn and a daphne process on one Redis and one database, with
LIVE_NOTIFY_FAULT_CLIENTS (200) clients that behave like live-notify.js spread over
both, while a separate process calls notify() ten times a second. After the fault,
every client must hold every notification addressed to it exactly once after
deduplication by id, and notifications sent afterwards must arrive live, faster than
the recovery sweep could bring them, with no server restarted by hand.
"""

import asyncio
import os
import random
import time
from contextlib import contextmanager

import pytest
from channels_redis.core import RedisChannelLayer

from benchmarks.client import percentile
from django_live_notify import protocol
from tests.live_clients import (
    LiveClient,
    Sender,
    Timing,
    clients_for,
    send_steadily,
    summary,
    wait_for_delivery,
    wait_until,
)
from tests.servers import LiveCluster, LiveDatabase, create_sessions, report

pytestmark = [pytest.mark.long, pytest.mark.redis]

CLIENTS = int(os.environ.get("LIVE_NOTIFY_FAULT_CLIENTS", "200"))
# The servers' HEARTBEAT_INTERVAL: the recovery sweep runs every 3 s and sends rows at least 3 s old.
HEARTBEAT = 6.0
SWEEP_GRACE = HEARTBEAT / 2
# A notification received this soon after its commit, outside a resume, came over the channel layer.
LIVE_WITHIN = 0.8 * SWEEP_GRACE
RATE = 10  # notify() calls a second
RECOVERY = 10.0  # seconds of sending after the fault ends


@pytest.fixture
def cluster(tmp_path):
    cluster = LiveCluster(tmp_path, ("uvicorn", "daphne"), HEARTBEAT)
    yield cluster
    cluster.stop()


@pytest.fixture
def sharded_cluster(tmp_path):
    cluster = LiveCluster(tmp_path, ("uvicorn", "daphne"), HEARTBEAT, shards=2)
    yield cluster
    cluster.stop()


class Run:
    """One fault test: clients, a sender, and the figures they yield."""

    def __init__(self, cluster: LiveCluster, request) -> None:
        self.cluster = cluster
        self.request = request
        self.users = create_sessions(cluster.env, CLIENTS)
        self.after = max(last_id for _, _, last_id in self.users)
        self.clients = clients_for(self.users, cluster.ports, Timing(HEARTBEAT))
        self.sender = Sender(cluster.env)
        self.figures: dict[str, object] = {}
        self.opens_at_drop: dict[int, int] = {}

    def all_connected(self) -> bool:
        """every client connected and resumed"""
        return all(client.connected for client in self.clients)

    async def __call__(self, fault) -> None:
        for client in self.clients:
            client.start()
        stop_sending = asyncio.Event()
        sending = None
        try:
            await wait_until(self.all_connected, 60, self.summary)
            await self.sender.start()
            sending = asyncio.create_task(
                send_steadily(self.sender, [user[0] for user in self.users], RATE, stop_sending, "steady")
            )
            await asyncio.sleep(3)
            healed = await fault(self)
            await asyncio.sleep(RECOVERY)
            stop_sending.set()
            await sending
            await wait_until(lambda: self.sender.pending.empty(), 60)
            assert not self.sender.errors, self.sender.errors[:5]
            await wait_until(self.all_connected, 60, self.summary)
            check, waited = await wait_for_delivery(self.clients, self.cluster.database, self.after, 60)
            self.report("catch_up_after_sending", round(waited, 1), " s")
            self.assert_exact(check)
            self.report_live_again(healed)
            await self.probe()
            check, _ = await wait_for_delivery(self.clients, self.cluster.database, self.after, 10)
            self.assert_exact(check)
            self.report("notifications", check.expected, "")
            self.report("duplicates_before_dedupe", check.duplicates, "")
            assert not any(client.incomplete_resumes for client in self.clients)
        finally:
            stop_sending.set()
            if sending is not None:
                await asyncio.gather(sending, return_exceptions=True)
            await self.sender.stop()
            await asyncio.gather(*(client.stop() for client in self.clients))

    def drop_some(self) -> list[LiveClient]:
        """Drop the connections of a tenth of the clients; return them."""
        dropped = random.sample(self.clients, len(self.clients) // 10)
        self.opens_at_drop = {client.user_id: client.opens for client in dropped}
        for client in dropped:
            client.drop()
        return dropped

    async def wait_for_return(self, clients: list[LiveClient], since: float, name: str, timeout: float = 60) -> None:
        """Wait until ``clients`` are connected and resumed again; report the longest wait from ``since``."""

        def back() -> bool:
            """every dropped client connected and resumed again"""
            return all(client.connected and client.opens > self.opens_at_drop[client.user_id] for client in clients)

        await wait_until(back, timeout, self.summary)
        self.report(name, round(max(client.connected_since for client in clients) - since, 2), " s")

    def summary(self) -> str:
        return summary(self.clients)

    def report(self, name, value, unit) -> None:
        self.figures[name] = value
        report(self.request, name, value, unit)

    def assert_exact(self, check) -> None:
        assert check.exact, (
            f"{sum(map(len, check.missing.values()))} missing of {check.expected} "
            f"(users {sorted(check.missing)[:10]}), unexpected {check.unexpected}"
        )

    def latencies(self, since: float) -> list[tuple[float, float]]:
        """Return (commit time, seconds until its recipient had it) of each delivery committed after ``since``."""
        by_user = {client.user_id: client for client in self.clients}
        rows = []
        for client in by_user.values():
            for notification_id, seen in client.first_seen.items():
                committed = self.sender.committed.get(notification_id)
                if committed is not None and committed >= since:
                    rows.append((committed, seen - committed))
        return sorted(rows)

    def report_live_again(self, healed: float) -> None:
        """Report how long after the fault ended every notification arrived live again, and the worst wait."""
        rows = self.latencies(healed - 60)
        during = [latency for committed, latency in rows if committed < healed]
        after = [(committed, latency) for committed, latency in rows if committed >= healed]
        slow = [committed for committed, latency in after if latency >= LIVE_WITHIN]
        self.report("worst_wait_sent_before_the_end", round(max(during, default=0), 2), " s")
        typical = percentile(sorted(latency for _, latency in after), 50) or 0
        self.report("p50_wait_after_the_end", round(typical, 3), " s")
        self.report("live_again_after", round(max(slow) - healed if slow else 0, 1), " s")

    async def probe(self) -> None:
        """Send to forty users at once (the everyone group) and to five one by one: each must arrive live."""
        opens = {client.user_id: client.opens for client in self.clients}
        everyone = random.sample([user[0] for user in self.users], min(40, len(self.users)))
        answers = [self.sender.notify(everyone, "probe to many")]
        answers += [self.sender.notify([user_id], "probe to one") for user_id in everyone[:5]]
        rows = [row for answer in await asyncio.gather(*answers) for row in answer["ids"]]
        clients = {client.user_id: client for client in self.clients}

        def arrived() -> bool:
            """every probe at its recipient"""
            return all(notification_id in clients[user_id].received for user_id, notification_id in rows)

        await wait_until(arrived, 10)
        for user_id, notification_id in rows:
            client: LiveClient = clients[user_id]
            waited = client.first_seen[notification_id] - self.sender.committed[notification_id]
            assert client.opens == opens[user_id], f"user {user_id} reconnected during the probe"
            assert waited < LIVE_WITHIN, f"probe {notification_id} took {waited:.2f} s: not live"


def test_redis_killed_and_restarted_empty(cluster, request):
    """redis-server dies (SIGKILL) for four seconds and comes back empty on the same port."""

    async def fault(run: Run) -> float:
        run.cluster.redis.kill()
        dropped = run.drop_some()
        await asyncio.sleep(4)
        run.cluster.redis.start()
        restarted, healed = time.monotonic(), time.time()
        await run.wait_for_return(dropped, restarted, "dropped_while_down_back_after_restart")
        return healed

    run = Run(cluster, request)
    asyncio.run(asyncio.wait_for(run(fault), 300))
    # Sent while Redis was down, they came from the recovery sweep: proof the live path was cut.
    assert run.figures["worst_wait_sent_before_the_end"] >= SWEEP_GRACE


def test_one_of_two_redis_shards_killed_and_restarted_empty(sharded_cluster, request):
    """With two Redis shards, the one that holds the everyone group dies for four seconds and comes back empty.

    Users' groups are spread over both shards (channels-redis hashes each name), so the same recovery as for one
    Redis must bring back the users on the dead shard, broadcasts to everyone, and nobody else is disturbed.
    """
    layer = RedisChannelLayer(hosts=[shard.url for shard in sharded_cluster.shards])
    on_shard = lambda name: layer.consistent_hash(name)  # noqa: E731
    victim = on_shard(protocol.everyone_group())

    async def fault(run: Run) -> float:
        on_victim = [user for user in run.users if on_shard(protocol.user_group(str(user[0]))) == victim]
        run.report("users_on_the_killed_shard", len(on_victim), "")
        assert 0 < len(on_victim) < len(run.users), "the users' groups are not spread over both shards"
        run.cluster.shards[victim].kill()
        dropped = run.drop_some()
        await asyncio.sleep(4)
        run.cluster.shards[victim].start()
        restarted, healed = time.monotonic(), time.time()
        await run.wait_for_return(dropped, restarted, "dropped_while_down_back_after_restart")
        return healed

    run = Run(sharded_cluster, request)
    asyncio.run(asyncio.wait_for(run(fault), 300))
    # Everything after the restart arrived live again, including the probe to forty users through the everyone
    # group on the restarted shard (Run.probe); before it, rows came from the recovery sweep.
    assert run.figures["worst_wait_sent_before_the_end"] >= SWEEP_GRACE


def test_server_process_killed(cluster, request):
    """The daphne process dies (SIGKILL); its clients reconnect to uvicorn and resume."""

    async def fault(run: Run) -> float:
        daphne = run.cluster.servers[1]
        orphans = [client for client in run.clients if client.socket and client.port == daphne.port]
        assert orphans
        opens = {client.user_id: client.opens for client in orphans}
        killed = time.monotonic()
        daphne.signal(9)

        def resumed_elsewhere() -> bool:
            """every client of the killed server reconnected and resumed"""
            return all(client.connected and client.opens > opens[client.user_id] for client in orphans)

        await wait_until(resumed_elsewhere, 60, run.summary)
        outages = [client.connected_since - killed for client in orphans]
        run.report("orphans", len(orphans), "")
        run.report("orphans_resumed_on_uvicorn_p50", round(percentile(sorted(outages), 50), 2), " s")
        run.report("orphans_resumed_on_uvicorn_max", round(max(outages), 2), " s")
        return time.time()

    asyncio.run(asyncio.wait_for(Run(cluster, request)(fault), 300))


@contextmanager
def writers_wait(database: LiveDatabase):
    """Hold a lock under which writers of notifications wait and readers go on."""
    connection = database.connect()
    cursor = connection.cursor()
    try:
        if database.vendor == "sqlite":
            cursor.execute("BEGIN EXCLUSIVE")  # In WAL mode, readers go on.
        elif database.vendor == "postgresql":
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE django_live_notify_notification IN EXCLUSIVE MODE")
        else:
            cursor.execute("LOCK TABLES django_live_notify_notification READ")
        yield
    finally:
        cursor.execute("UNLOCK TABLES" if database.vendor == "mysql" else "COMMIT")
        connection.close()


def test_database_locked(cluster, request):
    """Another connection holds a lock on the notification table for five seconds while notify() runs.

    Writers wait (notify() blocks in the sender); readers go on (SQLite in WAL mode), so a
    tenth of the clients drop their sockets meanwhile and resume from the locked
    database.
    """

    async def fault(run: Run) -> float:
        with writers_wait(run.cluster.database):
            locked = time.monotonic()
            dropped = run.drop_some()
            await run.wait_for_return(dropped, locked, "dropped_while_locked_back_after", timeout=4.5)
            await asyncio.sleep(5 - (time.monotonic() - locked))
        return time.time()

    run = Run(cluster, request)
    asyncio.run(asyncio.wait_for(run(fault), 300))
    blocked = max(run.sender.call_times)
    run.report("longest_notify_call", round(blocked, 2), " s")
    assert blocked > 4, "notify() never waited for the lock: the fault did not happen"
