"""What the Prometheus metrics cost on the hot paths: the same work with metrics on and off, in one run.

    python benchmarks/metrics_cost.py [--sockets 100] [--frames 10000] [--notifies 300] [--rounds 5]

In one process, on the real consumer, hub and outboxes (channels' WebsocketCommunicator as the
client, a temporary SQLite file as the database), it times:

* writing ``--frames`` frames from the hub to ``--sockets`` sockets (``Hub.send_frames``: the
  outbox write and the frame counter);
* ``--frames`` heartbeats in and their acks out (frame in and out counters);
* ``--notifies`` ``notify()`` calls to a user with an open socket (call and row counters, the
  commit stamp, the latency observation);
* one call of each hot-path function of ``django_live_notify.metrics``, alone.

Each phase runs ``--rounds`` times with metrics on and off alternately; the table gives the median
CPU time of the process (all its threads: ``time.process_time``, which a loaded machine disturbs
much less than the wall clock) and the ratio on/off. It needs prometheus-client (the ``metrics`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# No rate limit: the heartbeats of the benchmark would be refused past 20 per second and socket.
BASE = {"MAX_MESSAGES_PER_SECOND": 0, "MAX_PENDING_FRAMES": 100_000}


def setup(workdir: Path) -> None:
    os.environ["BENCH_DB"] = str(workdir / "metrics.sqlite3")
    os.environ["BENCH_LAYER"] = "memory"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def metrics_on(flag: bool) -> Any:
    from django.test import override_settings

    return override_settings(LIVE_NOTIFY={**BASE, "METRICS": flag})


async def open_sockets(count: int) -> tuple[list[Any], list[Any]]:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth import get_user_model

    from django_live_notify.consumers import NotificationConsumer

    def create_users() -> list[Any]:
        model = get_user_model()
        model.objects.bulk_create(model(username=f"metrics{index:05d}", password="!") for index in range(count))
        return list(model.objects.filter(username__startswith="metrics").order_by("pk"))

    users = await sync_to_async(create_users)()
    sockets = []
    for user in users:
        communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        sockets.append(communicator)
    return users, sockets


async def drain(sockets: list[Any], per_socket: int) -> None:
    for communicator in sockets:
        for _ in range(per_socket):
            await communicator.receive_output(5)


async def hub_writes(sockets: list[Any], users: list[Any], frames: int) -> float:
    """Time the hub writing ``frames`` frames, spread over the sockets."""
    from django_live_notify.hub import get_hub
    from django_live_notify.protocol import unread_count_frame

    hub = await get_hub()
    per_socket = frames // len(sockets)
    batch = [unread_count_frame(count) for count in range(per_socket)]
    keys = [str(user.pk) for user in users]
    started = time.process_time()
    for key in keys:
        hub.send_frames(key, batch)
    elapsed = time.process_time() - started
    await drain(sockets, per_socket)
    return elapsed


async def heartbeats(sockets: list[Any], users: list[Any], frames: int) -> float:
    """Time ``frames`` heartbeats in, spread over the sockets, until every ack is out."""
    per_socket = frames // len(sockets)
    started = time.process_time()
    for communicator in sockets:
        for _ in range(per_socket):
            await communicator.send_input({"type": "websocket.receive", "text": '{"type":"heartbeat"}'})
    await drain(sockets, per_socket)
    return time.process_time() - started


def make_notifies(count: int) -> Callable[[list[Any], list[Any], int], Awaitable[float]]:
    async def notifies(sockets: list[Any], users: list[Any], frames: int) -> float:
        """Time ``count`` notify() calls to the first user, whose socket gets each one (and a count)."""
        from asgiref.sync import sync_to_async

        from django_live_notify import notify

        def calls() -> float:
            started = time.process_time()
            for index in range(count):
                notify(users[0], title=f"Metrics benchmark {index}")
            return time.process_time() - started

        elapsed = await sync_to_async(calls)()
        await drain(sockets[:1], 2 * count)
        return elapsed

    return notifies


def function_costs(repeat: int = 200_000) -> list[tuple[str, float, float]]:
    """Return (call, ns off, ns on) for each hot-path function, one call alone."""
    from django_live_notify import metrics

    calls = {
        'frame_out(\'{"type":"unread_count",...}\')': lambda: metrics.frame_out('{"type":"unread_count","count":3}'),
        'frame_in("heartbeat")': lambda: metrics.frame_in("heartbeat"),
        "socket_opened() + sockets_closed()": lambda: (metrics.socket_opened(), metrics.sockets_closed()),
        'sent("notify", 1)': lambda: metrics.sent("notify", 1),
    }
    rows = []
    for name, call in calls.items():
        measured = {}
        for flag in (False, True):
            with metrics_on(flag):
                call()
                best = min(timeit.repeat(call, number=repeat, repeat=5, timer=time.process_time))
            measured[flag] = best / repeat * 1e9
        rows.append((name, measured[False], measured[True]))
    return rows


async def run(arguments: argparse.Namespace) -> list[tuple[str, float, float]]:
    from django_live_notify.hub import stop_hubs

    with metrics_on(True):
        users, sockets = await open_sockets(arguments.sockets)
    phases = {
        f"hub writes {arguments.frames:,} frames to {arguments.sockets} sockets": hub_writes,
        f"{arguments.frames:,} heartbeats in, acks out": heartbeats,
        f"{arguments.notifies} notify() calls (SQLite), each to a socket": make_notifies(arguments.notifies),
    }
    rows = []
    for name, phase in phases.items():
        timings: dict[bool, list[float]] = {False: [], True: []}
        for round_number in range(arguments.rounds + 1):
            # Alternating which goes first, so that neither always runs on a warmer process.
            for flag in (False, True) if round_number % 2 else (True, False):
                with metrics_on(flag):
                    elapsed = await phase(sockets, users, arguments.frames)
                if round_number:  # round 0 warms up
                    timings[flag].append(elapsed)
        rows.append((name, statistics.median(timings[False]), statistics.median(timings[True])))
        print(f"  {name}: done", file=sys.stderr, flush=True)
    for communicator in sockets:
        await communicator.disconnect()
    await stop_hubs()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--notifies", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        print("prometheus-client is not installed: pip install 'django-live-notify[metrics]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as workdir:
        setup(Path(workdir))
        rows = asyncio.run(run(arguments))
        functions = function_costs()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(
        f"Metrics cost, {python}, process CPU time, median of {arguments.rounds} rounds, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'phase':<58} {'off':>10} {'on':>10} {'on/off':>7}")
    for name, off, on in rows:
        print(f"{name:<58} {off * 1000:>8.1f}ms {on * 1000:>8.1f}ms {on / off:>7.3f}")
    for name, off, on in rows[:2]:
        print(f"  {name}: {(on - off) / arguments.frames * 1e9:+.0f} ns per frame")
    print(f"{'one call':<58} {'off':>10} {'on':>10} {'on/off':>7}")
    for name, off, on in functions:
        print(f"{name:<58} {off:>8.0f}ns {on:>8.0f}ns {on / off:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
