"""Benchmark of live_notify_import_hq: 50,000 rows of django-notifications-hq's table, on SQLite or PostgreSQL.

    python benchmarks/import_hq.py [--rows 50000] [--database sqlite|postgres://user:pw@host:5432/name]

It creates a fresh database (a temporary SQLite file, or the PostgreSQL database named in the URL, dropped first),
migrates it, creates 1,000 users and hq's table by raw SQL exactly as hq 1.8.3 leaves it (tests/hq_schema.py), and
fills it with a mix of rows like real ones: user actors, deleted actors, non-user actors, UUID and long target ids,
extra data with URLs, some bad JSON, read and soft-deleted rows. Then it measures, in the same run:

* the floor: one SELECT of every hq row plus a bulk_create() of as many bare notifications (no mapping at all);
* the import (``live_notify_import_hq``), and its rerun (every row already imported).

It prints each wall-clock time with its ratio to the floor, and the CPU time of this process (the whole work on
SQLite; on PostgreSQL the server's share is not in it), since a shared machine's load shows in the first but
hardly in the second. With ``--repeat N`` it runs N rounds (the table emptied between them) and reports the
median and the best import. It exits with 1 if the median import took more than the 5 s target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 5.0
USERS = 1000


def configure(database: str) -> str:
    """Configure Django for ``database`` and return a description of it."""
    import dj_database_url
    from django.conf import settings

    if database == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="ln-import-bench-")) / "bench.sqlite3"
        # WAL with synchronous=NORMAL, as benchmarks/settings.py: commits do not wait for fsync, so the figures
        # measure the import, not this machine's disk.
        options = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": options}
        described = "SQLite (file, WAL)"
    else:
        config = dj_database_url.parse(database)
        _recreate_postgres(config)
        described = f"PostgreSQL {config['HOST']}:{config['PORT']}/{config['NAME']}"
    settings.configure(
        SECRET_KEY="benchmarks-only-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            # The app's session receivers need the sessions app (the default SESSION_ENGINE's model).
            "django.contrib.sessions",
            "channels",
            "django_live_notify",
        ],
        DATABASES={"default": config},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    )
    import django

    django.setup()
    return described


def _recreate_postgres(config: dict) -> None:
    import psycopg

    with psycopg.connect(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}"')
        admin.execute(f'CREATE DATABASE "{config["NAME"]}"')


def prepare(rows: int) -> None:
    """Migrate, create the users and hq's table, and fill it with ``rows`` rows."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command

    from tests import hq_schema

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.bulk_create(user_model(username=f"user{n}", password="!") for n in range(USERS))
    user_ids = list(user_model.objects.order_by("pk").values_list("pk", flat=True))
    groups = Group.objects.bulk_create(Group(name=f"group{n}") for n in range(20))
    group_ids = [group.pk for group in Group.objects.filter(name__in=[group.name for group in groups])]
    user_type = ContentType.objects.get_for_model(user_model).pk
    group_type = ContentType.objects.get_for_model(Group).pk
    hq_schema.create_table("1.8.3")
    start = datetime(2023, 1, 1, tzinfo=UTC)
    batch = []
    for n in range(rows):
        kind = n % 20
        actor_type, actor_id = user_type, str(user_ids[(n * 7) % USERS])
        if kind == 1:
            actor_id = str(10_000_000 + n)  # A deleted user.
        elif kind in (2, 3, 4):
            actor_type, actor_id = group_type, str(group_ids[n % len(group_ids)])
        data = None
        if kind in (5, 6):
            data = json.dumps({"url": f"/items/{n}/", "colour": "blue"})
        elif kind == 7:
            data = "{broken"
        target_type, target_id = None, None
        if kind in (8, 9, 10):
            target_type, target_id = group_type, str(uuid.UUID(int=n))
        elif kind == 11:
            target_type, target_id = group_type, "t" * 200
        batch.append(
            {
                "level": ("info", "success", "warning", "error")[n % 4],
                "unread": n % 5 != 0,
                "actor_content_type_id": actor_type,
                "actor_object_id": actor_id,
                "verb": "did something",
                "description": f"Description {n}" if n % 2 else None,
                "target_content_type_id": target_type,
                "target_object_id": target_id,
                "action_object_content_type_id": group_type if kind == 12 else None,
                "action_object_object_id": str(group_ids[0]) if kind == 12 else None,
                "timestamp": start + timedelta(seconds=n),
                "public": kind != 13,
                "deleted": n % 50 == 0,
                "emailed": n % 3 == 0,
                "data": data,
                "recipient_id": user_ids[n % USERS],
            }
        )
        if len(batch) == 5000:
            hq_schema.insert(batch)
            batch = []
    hq_schema.insert(batch)


def floor_seconds() -> tuple[float, float]:
    """Time one SELECT of every hq row and a bulk_create() of as many bare notifications, then undo the insert."""
    from django.db import connection, transaction

    from django_live_notify.models import Notification

    started, cpu = time.perf_counter(), time.process_time()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM notifications_notification ORDER BY timestamp, id")
        rows = cursor.fetchall()
        recipient_column = [column[0] for column in cursor.description].index("recipient_id")
    now = datetime.now(UTC)
    with transaction.atomic():
        Notification.objects.bulk_create(
            (Notification(recipient_id=row[recipient_column], title="t", created=now, modified=now) for row in rows),
            batch_size=1000,
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    empty_notifications()
    return seconds, cpu


def empty_notifications() -> None:
    """Empty our table as it is before a first import: truncated, not deleted row by row.

    A DELETE would leave PostgreSQL 50,000 dead rows in the table and its indexes, and an autovacuum running
    through the next import.
    """
    from benchmarks.tables import empty_notifications as empty

    empty()


def import_seconds() -> tuple[float, float, str]:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    call_command("live_notify_import_hq", stdout=out, stderr=io.StringIO())
    return time.perf_counter() - started, time.process_time() - cpu, out.getvalue().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database", default="sqlite", help="sqlite (a temporary file) or a postgres:// URL")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of floor, import and rerun (default: 1)")
    options = parser.parse_args()
    described = configure(options.database)
    print(f"database: {described}", file=sys.stderr)
    print(f"preparing {options.rows:,} hq rows and {USERS:,} users", file=sys.stderr)
    prepare(options.rows)
    rounds = []
    for number in range(options.repeat):
        if number:
            empty_notifications()
        floor, floor_cpu = floor_seconds()
        first, first_cpu, summary = import_seconds()
        rerun, rerun_cpu, rerun_summary = import_seconds()
        rounds.append((floor, floor_cpu, first, first_cpu, rerun, rerun_cpu, os.getloadavg()[0]))
        if "Imported 0 " not in rerun_summary:
            print(f"FAILED: the rerun imported rows again: {rerun_summary}")
            return 1
    print(f"live_notify_import_hq, {options.rows:,} rows, {described}, {options.repeat} round(s)")
    print(summary)
    print(
        f"{'round':>5}{'load':>6}  {'floor s':>8}{'CPU s':>7}  {'import s':>8}{'x floor':>8}{'CPU s':>7}"
        f"  {'rerun s':>8}{'CPU s':>7}"
    )
    for number, (floor, floor_cpu, first, first_cpu, rerun, rerun_cpu, load) in enumerate(rounds, 1):
        print(
            f"{number:>5}{load:>6.1f}  {floor:>8.2f}{floor_cpu:>7.2f}"
            f"  {first:>8.2f}{first / floor:>8.2f}{first_cpu:>7.2f}  {rerun:>8.2f}{rerun_cpu:>7.2f}"
        )
    imports = sorted(first for _floor, _fcpu, first, *_rest in rounds)
    median = statistics.median(imports)
    ratio = statistics.median(first / floor for floor, _fcpu, first, *_rest in rounds)
    print(f"import: median {median:.2f} s, best {imports[0]:.2f} s, median {ratio:.2f} x the floor of its round")
    met = median <= TARGET_SECONDS
    verdict = "met" if met else "MISSED"
    print(f"target: import of {options.rows:,} rows in <= {TARGET_SECONDS:.0f} s (median): {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
