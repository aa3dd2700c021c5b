"""Soak: many clients for minutes, losing their connections at random, while notifications flow.

LIVE_NOTIFY_SOAK_CLIENTS (500) clients that behave like live-notify.js stay on a uvicorn
and a daphne process on one Redis for LIVE_NOTIFY_SOAK_SECONDS (300), while a separate
process calls notify() ten times a second. Each minute, on average, each client loses
its connection once: three times in four the TCP connection just drops, otherwise the
client sleeps like a laptop for 2 to 25 seconds (past the 15 s idle timeout the server
reaps it with 4002). At the end every client must hold every notification addressed to
it exactly once after deduplication by id, and each server's resident memory must not
have grown past warm-up by more than RSS_GROWTH plus RSS_SLACK_KIB.
"""

import asyncio
import gc
import os
import random
import statistics
import time

import pytest
from asgiref.sync import sync_to_async

from django_live_notify.consumers import NotificationConsumer
from django_live_notify.hub import get_hub
from tests.conftest import make_user, open_socket
from tests.live_clients import Sender, Timing, clients_for, send_steadily, summary, wait_for_delivery, wait_until
from tests.servers import LiveCluster, create_sessions, report

pytestmark = [pytest.mark.long, pytest.mark.redis]

CLIENTS = int(os.environ.get("LIVE_NOTIFY_SOAK_CLIENTS", "500"))
SECONDS = float(os.environ.get("LIVE_NOTIFY_SOAK_SECONDS", "300"))
HEARTBEAT = 6.0  # the servers' HEARTBEAT_INTERVAL: idle timeout 15 s
RATE = 10  # notify() calls a second
DISRUPTIONS_PER_CLIENT_MINUTE = 1.0
# Memory is compared from the end of the warm-up, when every socket has opened and
# reconnected a few times and the allocator has its working set.
WARM_UP = max(30.0, SECONDS / 5)
SAMPLE_EVERY = 5.0
# Allowed growth after warm-up: 10 % of the warmed-up RSS plus 8 MiB. The median of the
# last three samples is compared with the median of the first three after warm-up.
RSS_GROWTH = 0.10
RSS_SLACK_KIB = 8 * 1024


@pytest.fixture
def cluster(tmp_path):
    cluster = LiveCluster(tmp_path, ("uvicorn", "daphne"), HEARTBEAT)
    yield cluster
    cluster.stop()


async def disrupt(clients, stop: asyncio.Event) -> int:
    """Drop or put to sleep one client at a time, DISRUPTIONS_PER_CLIENT_MINUTE each on average."""
    pause = 60 / (DISRUPTIONS_PER_CLIENT_MINUTE * len(clients))
    sleepers = set()
    count = 0
    while not stop.is_set():
        client = random.choice(clients)
        if client.awake.is_set():
            count += 1
            if random.random() < 0.75:
                client.drop()
            else:
                sleeper = asyncio.create_task(client.sleep(random.uniform(2, 25)))
                sleepers.add(sleeper)
                sleeper.add_done_callback(sleepers.discard)
        try:
            await asyncio.wait_for(stop.wait(), pause)
        except TimeoutError:
            pass
    await asyncio.gather(*sleepers)
    return count


async def sample_memory(cluster: LiveCluster, samples: dict[str, list[int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for server in cluster.servers:
            samples[server.kind].append(server.rss_kib())
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except TimeoutError:
            pass


def test_soak(cluster, request):
    users = create_sessions(cluster.env, CLIENTS)
    after = max(last_id for _, _, last_id in users)
    clients = clients_for(users, cluster.ports, Timing(HEARTBEAT))
    sender = Sender(cluster.env)
    samples = {server.kind: [] for server in cluster.servers}

    def all_connected() -> bool:
        """every client connected and resumed"""
        return all(client.connected for client in clients)

    async def scenario():
        for client in clients:
            client.start()
        stop = asyncio.Event()
        tasks = []
        try:
            await wait_until(all_connected, 120, lambda: summary(clients))
            await sender.start()
            started = time.monotonic()
            tasks = [
                asyncio.create_task(send_steadily(sender, [user[0] for user in users], RATE, stop, "soak")),
                asyncio.create_task(disrupt(clients, stop)),
            ]
            await asyncio.sleep(WARM_UP)
            tasks.append(asyncio.create_task(sample_memory(cluster, samples, stop)))
            await asyncio.sleep(max(0.0, SECONDS - (time.monotonic() - started)))
            stop.set()
            calls, disruptions = (await asyncio.gather(*tasks))[:2]
            await wait_until(lambda: sender.pending.empty(), 60)
            assert not sender.errors, sender.errors[:5]
            await wait_until(all_connected, 120, lambda: summary(clients))
            check, waited = await wait_for_delivery(clients, cluster.database, after, 90)
            return calls, disruptions, check, waited
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sender.stop()
            await asyncio.gather(*(client.stop() for client in clients))

    calls, disruptions, check, waited = asyncio.run(asyncio.wait_for(scenario(), SECONDS + 600))
    reconnects = sum(client.opens for client in clients) - len(clients)
    reaped = sum(client.close_codes[4002] for client in clients)
    report(request, "clients", CLIENTS, "")
    report(request, "seconds", SECONDS, " s")
    report(request, "notify_calls", calls, "")
    report(request, "notifications", check.expected, "")
    report(request, "disruptions", disruptions, "")
    report(request, "reconnects", reconnects, "")
    report(request, "reaped_idle_4002", reaped, "")
    report(request, "duplicates_before_dedupe", check.duplicates, "")
    report(request, "catch_up_at_the_end", round(waited, 1), " s")
    assert check.exact, (
        f"{sum(map(len, check.missing.values()))} missing of {check.expected} "
        f"(users {sorted(check.missing)[:10]}), unexpected {check.unexpected}"
    )
    assert reconnects >= disruptions // 2, "the clients hardly reconnected: the disruptions did not happen"
    for kind, values in samples.items():
        assert len(values) >= 6, f"too few memory samples of {kind}: make LIVE_NOTIFY_SOAK_SECONDS longer"
        warmed = statistics.median(values[:3])
        final = statistics.median(values[-3:])
        report(request, f"rss_{kind}_after_warm_up", round(warmed / 1024, 1), " MiB")
        report(request, f"rss_{kind}_at_the_end", round(final / 1024, 1), " MiB")
        report(request, f"rss_{kind}_peak", round(max(values) / 1024, 1), " MiB")
        per_minute = values[:: max(1, round(60 / SAMPLE_EVERY))]
        report(request, f"rss_{kind}_each_minute", [round(value / 1024, 1) for value in per_minute], " MiB")
        assert final <= warmed * (1 + RSS_GROWTH) + RSS_SLACK_KIB, f"{kind} grew from {warmed} KiB to {final} KiB"


@pytest.mark.django_db(transaction=True)
async def test_no_consumer_outlives_its_socket():
    """What the soak's memory check cannot tell from allocator noise: nothing of a closed socket stays alive."""
    users = [await sync_to_async(make_user)(f"u{number}") for number in range(10)]
    for number in range(300):
        socket = await open_socket(users[number % len(users)])
        await socket.send_json_to({"type": "resume", "last_id": 0})
        assert (await socket.receive_json_from(3))["type"] == "resumed"
        if number % 2:
            await socket.disconnect()
        else:  # the connection drops: the server sees a disconnect the client never sent
            await socket.send_input({"type": "websocket.disconnect", "code": 1006})
            await socket.wait(3)
    hub = await get_hub()
    gc.collect()
    assert hub.connections == {} and hub.delivered == {}
    assert [item for item in gc.get_objects() if isinstance(item, NotificationConsumer)] == []
