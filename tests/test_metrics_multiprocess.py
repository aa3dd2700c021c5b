"""prometheus_client's multiprocess mode: two uvicorn processes on Redis, one metrics directory; either process's
/metrics shows the sum of both, and the counters of a process that has ended (a sender) are kept."""

import asyncio
import json
import signal
import urllib.request

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import AsgiServer, create_sessions, live_database_in, live_env, manage

pytestmark = [pytest.mark.redis, pytest.mark.slow]

NOTIFY = """
from django.contrib.auth import get_user_model
from django_live_notify import notify
notify(get_user_model().objects.get(pk=USER), title="From a third process")
"""


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/notifications/metrics/", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scraped(port, name, expected, timeout=10, **labels):
    """Scrape ``port`` until ``name`` reaches ``expected`` (counted frames reach the directory at a sweep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = await asyncio.to_thread(scrape, port)
        if value(samples, name, **labels) == expected or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.2)


async def open_socket(port, session_key):
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notifications/",
        additional_headers={"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"},
        compression=None,
    )
    await socket.send('{"type": "heartbeat"}')
    assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "heartbeat_ack"}
    return socket


def test_two_uvicorn_processes_sharing_a_metrics_directory_report_their_sum(tmp_path, redis_url):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    # A 4 s heartbeat: the hubs sweep, and so flush their frame counts to the directory, every 2 s.
    setup_env = live_env(live_database_in(tmp_path), redis_url, heartbeat=4)
    manage(setup_env, "migrate", "-v0")
    (first_user, first_key, _), (_, second_key, _), (_, third_key, _) = create_sessions(setup_env, 3)
    env = {**setup_env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    servers = [AsgiServer("uvicorn", env), AsgiServer("uvicorn", env)]

    async def scenario():
        first, second = (server.port for server in servers)
        sockets = [
            await open_socket(first, first_key),
            await open_socket(first, second_key),
            await open_socket(second, third_key),
        ]
        views = [await scraped(port, "live_notify_frames_in_total", 3, type="heartbeat") for port in (first, second)]
        await sockets[2].close()
        # The second process's hub sees the close a moment later.
        after_close = await scraped(first, "live_notify_sockets", 2)
        await asyncio.to_thread(manage, env, "shell", "-v0", "-c", NOTIFY.replace("USER", str(first_user)))
        frame = json.loads(await asyncio.wait_for(sockets[0].recv(), 10))
        assert frame["type"] == "notification"
        after_notify = await scraped(second, "live_notify_delivery_latency_seconds_count", 1, kind="notification")
        # A worker that crashes (killed here) leaves its last socket count in its file: it must leave the sum.
        sockets.append(await open_socket(second, third_key))
        before_stop = await scraped(first, "live_notify_sockets", 3)
        servers[1].signal(signal.SIGKILL)
        await asyncio.to_thread(servers[1].stop)
        after_stop = await asyncio.to_thread(scrape, first)
        for socket in sockets[:2]:
            await socket.close()
        return views, after_close, after_notify, before_stop, after_stop

    try:
        for server in servers:
            server.start()
        views, after_close, after_notify, before_stop, after_stop = asyncio.run(scenario())
    finally:
        for server in servers:
            server.stop()
    for samples in views:
        assert value(samples, "live_notify_sockets") == 3
        # Each socket sent one heartbeat, two in one process and one in the other.
        assert value(samples, "live_notify_frames_in_total", type="heartbeat") == 3
        assert value(samples, "live_notify_frames_out_total", type="heartbeat_ack") == 3
    assert value(after_close, "live_notify_sockets") == 2
    # The sender was a third process, gone by now: its counters are still in the directory.
    assert value(after_notify, "live_notify_send_calls_total", function="notify") == 1
    assert value(after_notify, "live_notify_send_rows_total", function="notify") == 1
    assert value(after_notify, "live_notify_delivery_latency_seconds_count", kind="notification") == 1
    assert 0 < value(after_notify, "live_notify_delivery_latency_seconds_sum", kind="notification") < 10
    assert value(before_stop, "live_notify_sockets") == 3
    assert value(after_stop, "live_notify_sockets") == 2
    assert {path.name.split("_")[0] for path in directory.iterdir()} >= {"counter", "gauge", "histogram"}
