"""How long broadcast() takes to store a notification for 100,000 users, on the database given.

    python benchmarks/broadcast_store.py [--database URL] [--users 100000] [--repeat 3]

It creates the users (11% of them have the type turned off, 5% "store only"), then
times broadcast() to every active user, to a QuerySet of users and to a list of users
(storing it once, with a pending row per recipient: see django_live_notify/fanout.py),
next to a baseline in the same run: the statements of the previous release (version
0.x, before the indexes of issue 12), copied below. Each figure is the median of
``--repeat`` calls, the notification table emptied before each. Without --database it
uses a temporary SQLite file in WAL mode, as benchmarks/settings.py does. A database
given by URL is used as it is: the run creates its tables and replaces the users,
preferences and notifications in it. It also reports what writing every recipient's row
costs when they all read it afterwards. See benchmarks/README.rst.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOTIFICATION_TYPE = "maintenance"
OFF_SHARE = 0.11
STORE_SHARE = 0.05
# Storing, per database: (to everyone or a QuerySet, to a list), in seconds.
TARGETS = {"postgresql": (0.6, 2.0), "mysql": (0.6, 2.0), "sqlite": (0.4, 2.0)}


def log(message: str) -> None:
    print(message, flush=True)


def setup(database: str | None, workdir: Path) -> None:
    if database:
        os.environ["BENCH_DATABASE_URL"] = database
    else:
        os.environ["BENCH_DB"] = str(workdir / "broadcast.sqlite3")
    os.environ["BENCH_LAYER"] = "memory"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()


def prepare(count: int) -> None:
    """Migrate, then create ``count`` users and their preferences, unless they are there already."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from django_live_notify.models import NotificationPreference

    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    off, store = int(count * OFF_SHARE), int(count * STORE_SHARE)
    if (
        user_model.objects.count() == count
        and NotificationPreference.objects.filter(delivery="off").count() == off
        and NotificationPreference.objects.filter(delivery="store").count() == store
    ):
        return
    empty_notifications()
    with transaction.atomic():
        NotificationPreference.objects.all().delete()
        user_model.objects.all().delete()
        user_model.objects.bulk_create(
            [user_model(username=f"bench{index:06d}", password="!") for index in range(count)], batch_size=5000
        )
    ids = list(user_model.objects.order_by("pk").values_list("pk", flat=True))
    # Every ninth user off, so that they are spread over the table, then some "store only".
    off_ids = ids[::9][:off]
    rest = sorted(set(ids) - set(off_ids))
    store_ids = rest[::17][:store]
    with transaction.atomic():
        NotificationPreference.objects.bulk_create(
            [NotificationPreference(user_id=pk, notification_type=NOTIFICATION_TYPE, delivery="off") for pk in off_ids]
            + [
                NotificationPreference(user_id=pk, notification_type=NOTIFICATION_TYPE, delivery="store")
                for pk in store_ids
            ],
            batch_size=5000,
        )
    analyze()


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "mysql":
            for table in ("auth_user", "django_live_notify_notificationpreference", "django_live_notify_notification"):
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()
        else:
            cursor.execute("ANALYZE")


def empty_notifications() -> None:
    from benchmarks.tables import empty_notifications as empty

    empty()


# The baseline: broadcast() of the release before, its statements copied as they were.


def baseline_broadcast(*, title: str, notification_type: str, users: Any = None) -> int:
    from django.db import models, transaction

    from django_live_notify import batching, preferences, protocol, sending, storing

    template = storing.build(title, "", notification_type, None, None, "", None, "", None, None)
    if users is None or isinstance(users, models.QuerySet):
        return baseline_in_database(template, users)
    user_ids = storing.distinct_ids(users, "users")
    stored: list[tuple[Any, int]] = []
    pairs: list[tuple[Any, int | None]] = []
    with transaction.atomic():
        for batch in batching.batches(user_ids):
            delivery = preferences.deliveries(batch, template.notification_type)
            rows = [
                storing.copy_row(template, recipient_id, silent=delivery[recipient_id] == preferences.STORE)
                for recipient_id in batch
                if delivery[recipient_id] != preferences.OFF
            ]
            if rows:
                storing.bulk_insert(rows)
            stored.extend((row.recipient_id, row.pk) for row in rows)
            pairs.extend((row.recipient_id, None if row.silent else row.pk) for row in rows)
    if stored:
        tail = protocol.notification_tail(template.shared_payload())
        transaction.on_commit(lambda: sending.send_stored(tail, pairs))
    return len(stored)


def baseline_in_database(template: Any, users: Any) -> int:
    import uuid

    from django.contrib.auth import get_user_model
    from django.db import router, transaction
    from django.db.models import Max

    from django_live_notify import protocol, publish
    from django_live_notify.models import Notification

    db = router.db_for_write(Notification)
    user_model = get_user_model()
    if users is None:
        recipients = user_model._default_manager.using(db).filter(is_active=True)
    else:
        recipients = user_model._default_manager.using(db).filter(pk__in=users.values("pk"))
    template.broadcast_id = uuid.uuid4()
    with transaction.atomic(using=db):
        before = Notification.objects.using(db).aggregate(top=Max("id"))["top"] or 0
        count = baseline_insert_select(template, recipients, db)
        tail = protocol.notification_tail(template.shared_payload())
        message = publish.broadcast_message(tail, str(template.broadcast_id), before)
        transaction.on_commit(lambda: publish.publish(message, everyone=True), using=db)
    return count


def baseline_insert_select(template: Any, recipients: Any, db: str) -> int:
    from django.db import connections, models
    from django.db.models import BooleanField, Case, CharField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce

    from django_live_notify import preferences
    from django_live_notify.models import Notification, NotificationPreference

    notification_type = template.notification_type
    chosen = NotificationPreference.objects.filter(user=OuterRef("pk"), notification_type=notification_type).values(
        "delivery"
    )[:1]
    recipients = recipients.annotate(
        live_notify_delivery=Coalesce(
            Subquery(chosen), Value(preferences.default_delivery(notification_type)), output_field=CharField()
        )
    ).exclude(live_notify_delivery=preferences.OFF)
    silent = Case(
        When(live_notify_delivery=preferences.STORE, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    connection = connections[db]
    columns: list[str] = []
    selected: list[str] = []
    constants: dict[str, Any] = {}
    for field in Notification._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(str(field.column)))
        if field.attname == "recipient_id":
            selected.append("pk")
            continue
        alias = f"live_notify_{field.attname}"
        selected.append(alias)
        if field.attname == "silent":
            constants[alias] = silent
            continue
        value = field.pre_save(template, add=True)
        output = field.target_field if isinstance(field, models.ForeignKey) else field
        constants[alias] = Value(value, output_field=output)
    query = recipients.order_by("pk").annotate(**constants).values_list(*selected).query
    select_sql, params = query.get_compiler(using=db).as_sql()
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select_sql}", params)
        return cursor.rowcount


# Measuring


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def ratio(live: float, base: float | None) -> str:
    return f"{live / base:.2f}" if base else "-"


def calls(times: list[tuple[float, float]]) -> str:
    return " ".join(f"{wall:.3f}/{cpu:.3f}" for wall, cpu in times)


def server_name() -> str:
    import sqlite3

    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        return str(cursor.fetchone()[0]).split(" on ")[0]


def server_cpu() -> float:
    """Return the CPU seconds the database has used so far: 0 for SQLite, which runs in this process.

    PostgreSQL: this connection's backend process. MariaDB and MySQL: the whole server
    (one process), so other clients of it count too.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cpu_seconds(cursor.fetchone()[0])
    if connection.vendor == "mysql":
        for comm in Path("/proc").glob("[0-9]*/comm"):
            with contextlib.suppress(OSError):
                if comm.read_text().strip() in ("mariadbd", "mysqld"):
                    return cpu_seconds(int(comm.parent.name))
    return 0.0


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) ``pid`` has used, from /proc/<pid>/stat; 0 where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(function: Any, expected: int, expected_silent: int) -> tuple[float, float]:
    """Empty the table, call ``function`` (after-commit work included) and return its wall and CPU seconds.

    CPU is this process's and the database's (see server_cpu()): less sensitive to other work on the
    machine than the wall clock.
    """
    from django.db import reset_queries

    from django_live_notify.models import Notification, PendingBroadcast

    empty_notifications()
    reset_queries()
    cpu = time.process_time() + server_cpu()
    began = time.perf_counter()
    stored = function()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() + server_cpu() - cpu
    # The baseline writes notification rows; broadcast() one pending row per recipient (see fanout.py).
    rows = Notification.objects.count() + PendingBroadcast.objects.count()
    if stored != expected or rows != expected:
        raise SystemExit(f"stored {stored} ({rows} rows), expected {expected}")
    silent = Notification.objects.filter(silent=True).count() + PendingBroadcast.objects.filter(silent=True).count()
    if silent != expected_silent:
        raise SystemExit(f"{silent} silent rows, expected {expected_silent}")
    return elapsed, cpu


def timed_reading(expected: int) -> tuple[float, float, list[int]]:
    """Broadcast to everyone, then time writing every recipient's row as their reads would, a batch of users at a
    time (as a socket server does for the users connected to it); return wall and CPU seconds and the batches."""
    from django.contrib.auth import get_user_model

    from django_live_notify import batching, broadcast, fanout
    from django_live_notify.models import Notification

    empty_notifications()
    broadcast(title="Maintenance tonight", notification_type=NOTIFICATION_TYPE)
    user_ids = list(get_user_model().objects.order_by("pk").values_list("pk", flat=True))
    cpu = time.process_time() + server_cpu()
    began = time.perf_counter()
    written = [fanout.materialize(batch) for batch in batching.batches(user_ids)]
    elapsed = time.perf_counter() - began
    cpu = time.process_time() + server_cpu() - cpu
    if sum(written) != expected or Notification.objects.count() != expected:
        raise SystemExit(f"wrote {sum(written)} rows on reading, expected {expected}")
    return elapsed, cpu, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="database URL (postgres://..., mysql://...); default: a SQLite file")
    parser.add_argument("--users", type=int, default=100_000, help="users; default 100,000")
    parser.add_argument("--repeat", type=int, default=3, help="calls per figure (the median is reported); default 3")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (no ratios)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="live-notify-broadcast-") as workdir:
        setup(args.database, Path(workdir))
        from django.contrib.auth import get_user_model
        from django.db import connection

        from django_live_notify import broadcast

        began = time.perf_counter()
        prepare(args.users)
        vendor = connection.vendor
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        log(f"broadcast() storing benchmark, {now}: {server_name()}; Python {platform.python_version()}")
        log(
            f"{args.users:,} users ({OFF_SHARE:.0%} off, {STORE_SHARE:.0%} store only), prepared in "
            f"{time.perf_counter() - began:.1f} s; median of {args.repeat}; "
            f"load {', '.join(f'{load:.2f}' for load in os.getloadavg())}"
        )
        expected = args.users - int(args.users * OFF_SHARE)
        expected_silent = int(args.users * STORE_SHARE)
        user_model = get_user_model()
        everyone_list = list(user_model.objects.order_by("pk"))
        cases = {
            "to everyone": {"users": None},
            "to a QuerySet": {"users": user_model.objects.all()},
            "to a list": {"users": everyone_list},
        }
        # Warm up: imports, prepared statements, caches.
        broadcast(title="warm-up", notification_type=NOTIFICATION_TYPE, users=everyone_list[:50])
        baseline_broadcast(title="warm-up", notification_type=NOTIFICATION_TYPE, users=everyone_list[:50])
        rows = []
        failed = []
        for name, kwargs in cases.items():
            live_times, baseline_times = [], []
            for _ in range(args.repeat):
                if not args.no_baseline:
                    baseline_times.append(
                        timed(
                            lambda kwargs=kwargs: baseline_broadcast(
                                title="Maintenance tonight", notification_type=NOTIFICATION_TYPE, **kwargs
                            ),
                            expected,
                            expected_silent,
                        )
                    )
                live_times.append(
                    timed(
                        lambda kwargs=kwargs: broadcast(
                            title="Maintenance tonight", notification_type=NOTIFICATION_TYPE, **kwargs
                        ),
                        expected,
                        expected_silent,
                    )
                )
            live = statistics.median(wall for wall, _ in live_times)
            live_cpu = statistics.median(cpu for _, cpu in live_times)
            base = statistics.median(wall for wall, _ in baseline_times) if baseline_times else None
            base_cpu = statistics.median(cpu for _, cpu in baseline_times) if baseline_times else None
            target = TARGETS.get(vendor, (None, None))[1 if name == "to a list" else 0]
            met = target is None or live <= target
            if not met:
                failed.append(f"{name}: {live:.3f} s > {target} s")
            rows.append((name, live, base, live_cpu, base_cpu, target, met, live_times, baseline_times))
        read_times = [timed_reading(expected) for _ in range(args.repeat)]
        empty_notifications()
        log(f"{'stored ' + format(expected, ','):<15} {'live-notify':>11} {'baseline':>9} {'ratio':>6} "
            f"{'CPU live':>9} {'baseline':>9} {'ratio':>6} {'target':>7} {'met':>4}")  # fmt: skip
        for name, live, base, live_cpu, base_cpu, target, met, _, _ in rows:
            log(
                f"{name:<15} {live:>11.3f} {number(base):>9} {ratio(live, base):>6} "
                f"{live_cpu:>9.3f} {number(base_cpu):>9} {ratio(live_cpu, base_cpu):>6} "
                f"{'<= ' + str(target) if target else '-':>7} {'yes' if met else 'NO':>4}"
            )
        log("every call, wall / CPU seconds:")
        for name, _, _, _, _, _, _, live_times, baseline_times in rows:
            log(f"  {name:<15} live-notify {calls(live_times)}; baseline {calls(baseline_times) or '-'}")
        log(
            f"Every recipient reading it afterwards (their rows written, {len(read_times[0][2])} calls of "
            f"materialize() of BATCH_SIZE users): {statistics.median(wall for wall, _, _ in read_times):.3f} s, "
            f"CPU {statistics.median(cpu for _, cpu, _ in read_times):.3f} s (not a target: what the reads cost "
            "in all, spread over the users' visits)."
        )
        log("Seconds, the median of the calls. CPU: this process and the database server (see --help).")
        log(
            "ratio = django-live-notify / baseline (the previous release's statements) in this run; below 1 is better."
        )
        if failed:
            log("FAILED: " + "; ".join(failed))
            return 1
        log("All targets met.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
