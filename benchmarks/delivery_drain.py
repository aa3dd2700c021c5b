"""How fast the delivery worker drains a backlog of due email rows, next to a plain loop of send_mail() calls.

    python benchmarks/delivery_drain.py [--database URL] [--rows 2000] [--per-user 1]

It stores ``--rows`` notifications (``--per-user`` for each user, so ``rows / per-user`` users), all due for
email, then times one ``delivery.sweep()`` that records, claims and sends them, through a real SMTP server on
127.0.0.1 (aiosmtpd) and through Django's locmem backend. The baseline, in the same run and on the same
servers, is what a project would write without the app: one ``send_mail()`` per email in a loop, with no
record, no claim, no retry. Without --database it uses a temporary SQLite file in WAL mode.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# The app's URLs, for the unsubscribe link: this module is the run's ROOT_URLCONF.
urlpatterns: list = []


def setup(database: str | None, workdir: Path) -> None:
    if database:
        os.environ["BENCH_DATABASE_URL"] = database
    else:
        os.environ["BENCH_DB"] = str(workdir / "drain.sqlite3")
    os.environ["BENCH_LAYER"] = "memory"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from django.urls import include, path

    urlpatterns.append(path("notifications/", include("django_live_notify.urls")))
    sys.modules.setdefault("benchmarks.delivery_drain", sys.modules[__name__])


def smtp_server():
    from aiosmtpd.controller import Controller

    from tests.servers import free_port

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.extend(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port, received


def prepare(rows: int, per_user: int) -> list:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from django_live_notify.models import Delivery, Notification

    call_command("migrate", verbosity=0, interactive=False)
    Delivery.objects.all().delete()
    Notification.objects.all().delete()
    user_model = get_user_model()
    user_model.objects.all().delete()
    user_model.objects.bulk_create(
        [
            user_model(username=f"drain{n:06d}", email=f"drain{n:06d}@example.com", password="!")
            for n in range(rows // per_user)
        ]
    )
    return list(user_model.objects.order_by("pk"))


def store(users: list, per_user: int) -> int:
    from django_live_notify import notify

    for number in range(per_user):
        notify(users, title=f"Backlog row {number}", message="Something happened", url="/things/1/")
    from django_live_notify.models import Notification

    return Notification.objects.count()


def time_baseline(users: list, per_user: int) -> float:
    from django.core.mail import send_mail

    start = time.perf_counter()
    for user in users:
        body = "\n".join(f"- Backlog row {number}\n  Something happened" for number in range(per_user))
        send_mail(f"You have {per_user} unread notifications", body, "bench@example.com", [user.email])
    return time.perf_counter() - start


def time_drain() -> tuple[float, dict]:
    from django.utils import timezone

    from django_live_notify import delivery

    start = time.perf_counter()
    counts = delivery.sweep(now=timezone.now() + timedelta(minutes=31))
    return time.perf_counter() - start, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a database URL; default: a temporary SQLite file")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--per-user", type=int, default=1)
    parser.add_argument("--no-analytics", action="store_true", help="LIVE_NOTIFY['ANALYTICS'] = False")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        setup(options.database, Path(workdir))
        from django.core import mail
        from django.db import connection
        from django.test import override_settings

        from django_live_notify.models import Delivery

        controller, port, received = smtp_server()
        live_notify = {
            "DELIVERY_BACKENDS": ["django_live_notify.emailing.EmailBackend"],
            "DELIVERY_MODE": "sweep",
            "EMAIL_MAX_PER_HOUR": 0,
            "EMAIL_DIGEST_MINUTES": 0,
            "EMAIL_BASE_URL": "https://example.com",
            "DELIVERY_BATCH_SIZE": 200,
            "ANALYTICS": not options.no_analytics,
        }
        print(f"# delivery drain: {options.rows} rows, {options.per_user} per user, {connection.vendor}, "
              f"analytics {'off' if options.no_analytics else 'on'}, "
              f"Python {platform.python_version()}, {os.cpu_count()} CPUs")  # fmt: skip
        print(f"{'transport':<10} {'baseline rows/s':>16} {'worker rows/s':>14} {'ratio':>6}  worker emails")
        try:
            for transport, backend in (
                ("smtp", "django.core.mail.backends.smtp.EmailBackend"),
                ("locmem", "django.core.mail.backends.locmem.EmailBackend"),
            ):
                with override_settings(
                    LIVE_NOTIFY=live_notify,
                    EMAIL_BACKEND=backend,
                    EMAIL_HOST="127.0.0.1",
                    EMAIL_PORT=port,
                    ROOT_URLCONF="benchmarks.delivery_drain",
                    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
                ):
                    users = prepare(options.rows, options.per_user)
                    rows = store(users, options.per_user)
                    baseline = time_baseline(users, options.per_user)
                    received.clear()
                    mail.outbox = []
                    drain, counts = time_drain()
                    sent = Delivery.objects.filter(status="sent").count()
                    if sent != rows:
                        errors = set(Delivery.objects.values_list("status", "last_error"))
                        raise SystemExit(f"{sent} of {rows} sent: {counts} {errors}")
                    emails = len(received) if transport == "smtp" else len(mail.outbox)
                    base_rate, drain_rate = rows / baseline, rows / drain
                    ratio = drain_rate / base_rate
                    print(f"{transport:<10} {base_rate:>16.0f} {drain_rate:>14.0f} {ratio:>6.2f}  {emails}")
        finally:
            controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
