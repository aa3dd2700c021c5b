"""Web Push fan-out: one notification pushed to 10,000 subscriptions at a local push service, next to a baseline.

    python benchmarks/push_fanout.py [--subscriptions 10000] [--concurrency 32]

It stores 10,000 users with one browser subscription each and one notification each (SQLite in WAL mode, as
benchmarks/settings.py does), starts the push service double of the tests (tests/push_service.py) on 127.0.0.1
in a process of its own, answering 201 without checking, so that the figures are the sender's), then runs two
phases, each in a fresh process:

* baseline: the same number of plain HTTP POSTs of the same size (the encrypted push's 4 KB-bounded body) with
  the same client library (a requests session per thread) and the same number of threads;
* push: ``WebPushBackend().send(user, [notification])`` for every user, the same threads: the subscription query,
  the encryption (RFC 8291), the VAPID header (signed once per push service and reused), the POST and the
  bookkeeping update.

It prints the time, the rate, the concurrency and the peak memory (the phase process's peak RSS, and its growth
over the process after setup) of each, and the ratio push / baseline. The run takes well under 2 minutes on
2 cores. Exit status 1 when a push was not accepted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def django_setup(database: str) -> None:
    os.environ["BENCH_DB"] = database
    os.environ["BENCH_LAYER"] = "memory"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()


def vapid_settings() -> dict[str, str]:
    """Return a new VAPID key pair and subject as LIVE_NOTIFY keys (what live_notify_vapid_keys prints)."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    from tests.push_service import b64url

    vapid = Vapid02()
    vapid.generate_keys()
    private_key = b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    public_key = b64url(
        vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "WEBPUSH_VAPID_PRIVATE_KEY": private_key,
        "WEBPUSH_VAPID_PUBLIC_KEY": public_key,
        "WEBPUSH_VAPID_SUBJECT": "mailto:bench@example.com",
    }


def serve(ready: Any, stop: Any) -> None:
    """Run the push service double without checks (each push answered 201) until ``stop`` is set."""
    from tests.push_service import Device, PushService

    with PushService(verify=False) as service:
        service.device = None  # type: ignore[assignment]
        # Every path under /push/ is a known device: the double looks devices up by the path's last part.
        service.devices = _AnyDevice(Device)  # type: ignore[assignment]
        ready.put(service.origin)
        stop.wait()


class _AnyDevice(dict):
    def __init__(self, device_class: Any) -> None:
        super().__init__()
        self.device = device_class(token="any")

    def get(self, key: Any, default: Any = None) -> Any:
        return self.device


def prepare(database: str, count: int, origin: str) -> None:
    """Create the tables, ``count`` users, one subscription and one unread notification each."""
    django_setup(database)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from django_live_notify import notify
    from django_live_notify.models import PushSubscription, endpoint_hash
    from tests.push_service import b64url

    call_command("migrate", verbosity=0)
    users = get_user_model().objects.bulk_create(get_user_model()(username=f"u{n:05d}") for n in range(count))
    subscriptions = []
    for user in users:
        point = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        endpoint = f"{origin}/push/{user.pk}-{os.urandom(8).hex()}"
        subscriptions.append(
            PushSubscription(
                user=user,
                endpoint=endpoint,
                endpoint_sha256=endpoint_hash(endpoint),
                p256dh=b64url(point),
                auth=b64url(os.urandom(16)),
            )
        )
    PushSubscription.objects.bulk_create(subscriptions, batch_size=1000)
    notify(
        get_user_model().objects.all(),
        title="Maintenance tonight",
        message="The service is down from 22:00 to 23:00 UTC. " * 4,
        url="/status/",
        group_key="maintenance",
    )


def phase(name: str, database: str, origin: str, concurrency: int, push_settings: dict[str, str]) -> dict[str, Any]:
    """Run one phase in this process and return its figures."""
    django_setup(database)
    import requests
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from django_live_notify.models import Notification
    from django_live_notify.webpush import WebPushBackend, payload

    override_settings(LIVE_NOTIFY=push_settings).enable()
    users = list(get_user_model().objects.order_by("pk"))
    notifications = {row.recipient_id: row for row in Notification.objects.all()}
    # The encrypted body is the JSON plus 103 bytes (aes128gcm header, tag, padding delimiter).
    body_size = len(json.dumps(payload(next(iter(notifications.values()))), separators=(",", ":")).encode()) + 103
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    local = threading.local()
    backend = WebPushBackend()

    def plain(user: Any) -> bool:
        session = getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        response = session.post(f"{origin}/plain/{user.pk}", data=os.urandom(body_size), timeout=10)
        return response.status_code == 201

    def push(user: Any) -> bool:
        # Each thread keeps its database connection, as a worker process does.
        return backend.send(user, [notifications[user.pk]]).accepted == [notifications[user.pk].pk]

    work = plain if name == "baseline" else push
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(work, users))
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "phase": name,
        "count": len(users),
        "ok": sum(results),
        "seconds": elapsed,
        "rate": len(users) / elapsed,
        "concurrency": concurrency,
        "body_bytes": body_size,
        "peak_rss_mb": rss_after / 1024,
        "rss_growth_mb": (rss_after - rss_before) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="threads sending at once (default: 32)")
    parser.add_argument("--phase", choices=["baseline", "push"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.phase:
        push_settings = json.loads(os.environ["BENCH_PUSH_SETTINGS"])
        figures = phase(options.phase, options.database, options.origin, options.concurrency, push_settings)
        print(json.dumps(figures))
        return 0

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(ready, stop), daemon=True)
    server.start()
    try:
        origin = ready.get(timeout=30)
        with tempfile.TemporaryDirectory() as workdir:
            database = str(Path(workdir) / "push.sqlite3")
            log(f"storing {options.subscriptions:,} users, subscriptions and notifications")
            setup = context.Process(target=prepare, args=(database, options.subscriptions, origin))
            setup.start()
            setup.join(120)
            if setup.exitcode != 0:
                log("setup failed")
                return 1
            env = {**os.environ, "BENCH_PUSH_SETTINGS": json.dumps(vapid_settings())}
            results = {}
            for name in ("baseline", "push"):
                log(f"{name}: {options.subscriptions:,} requests, {options.concurrency} threads")
                output = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--phase",
                        name,
                        "--database",
                        database,
                        "--origin",
                        origin,
                        "--concurrency",
                        str(options.concurrency),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                ).stdout
                results[name] = json.loads(output.strip().splitlines()[-1])
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.terminate()
    report(results, time.perf_counter() - started)
    return 0 if results["push"]["ok"] == results["push"]["count"] else 1


def report(results: dict[str, dict[str, Any]], total: float) -> None:
    baseline, push = results["baseline"], results["push"]
    print(
        f"push fan-out, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{push['count']:,} subscriptions, {push['concurrency']} threads, bodies of {push['body_bytes']} bytes")
    print(f"{'':30} {'baseline':>12} {'web push':>12} {'ratio':>8}")
    rows = [
        ("time (s)", "seconds", "{:.2f}"),
        ("requests / s", "rate", "{:,.0f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"),
        ("RSS growth while sending (MB)", "rss_growth_mb", "{:.0f}"),
    ]
    for label, key, shape in rows:
        ratio = push[key] / baseline[key] if baseline[key] else float("nan")
        print(f"{label:30} {shape.format(baseline[key]):>12} {shape.format(push[key]):>12} {ratio:>8.2f}")
    print(f"accepted: {push['ok']:,}/{push['count']:,} pushes, {baseline['ok']:,}/{baseline['count']:,} plain POSTs")
    print(f"whole run, setup included: {total:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
