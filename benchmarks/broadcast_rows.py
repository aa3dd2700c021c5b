"""What one stored broadcast row costs, per index: the broadcast's ``INSERT ... SELECT`` with the indexes of
release 0.x (``import_key`` unique over every row, plus PostgreSQL's ``_like`` index for it) against those of
migration 0010 (unique over the rows that have a key), alternating in one run.

    python benchmarks/broadcast_rows.py --database URL [--users 100000] [--repeat 5]

Reports CPU (this process and the database server, as benchmarks/broadcast_store.py counts it) and wall
seconds; on PostgreSQL also the buffers the statement touched and the foreign-key triggers' time and calls
(``SET CONSTRAINTS ALL IMMEDIATE`` makes them fire inside ``EXPLAIN (ANALYZE, BUFFERS)``). On MariaDB the
figures are the server's whole CPU and InnoDB's buffer-pool read requests (global: other clients count too).
The users and preferences are those of broadcast_store.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import broadcast_store  # noqa: E402

OLD = "live_notify_bench_old_import_key"


def set_old_indexes(old: bool) -> None:
    """Add (``old``) or drop the indexes that ``unique=True`` gave ``import_key`` before migration 0010."""
    from django.db import connection

    from django_live_notify.models import Notification

    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        existing = connection.introspection.get_constraints(cursor, Notification._meta.db_table)
        if not old:
            for name in (OLD, OLD + "_like"):
                if name in existing:
                    cursor.execute(f"DROP INDEX {name}" + (f" ON {table}" if connection.vendor == "mysql" else ""))
            return
        if OLD not in existing:
            cursor.execute(f"CREATE UNIQUE INDEX {OLD} ON {table} (import_key)")
        if connection.vendor == "postgresql" and OLD + "_like" not in existing:
            cursor.execute(f"CREATE INDEX {OLD}_like ON {table} (import_key varchar_pattern_ops)")


def global_status(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE %s", [name])
        return int(cursor.fetchone()[1])


def store_once() -> dict[str, float]:
    """Empty the table, store one broadcast's rows in a transaction, and return what it cost."""
    import uuid

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from django_live_notify import storing

    broadcast_store.empty_notifications()
    template = storing.build(
        "Maintenance tonight", "", broadcast_store.NOTIFICATION_TYPE, None, None, "", None, "", None, None
    )
    template.broadcast_id = uuid.uuid4()
    recipients = get_user_model()._default_manager.filter(is_active=True)
    figures: dict[str, float] = {}
    plans: list[Any] = []

    def explain(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("INSERT INTO") and connection.vendor == "postgresql":
            execute("SET CONSTRAINTS ALL IMMEDIATE", None, False, context)
            result = execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params, many, context)
            plans.append(context["cursor"].fetchone()[0])
            return result
        return execute(sql, params, many, context)

    pool = global_status("Innodb_buffer_pool_read_requests") if connection.vendor == "mysql" else 0
    cpu = time.process_time() + broadcast_store.server_cpu()
    began = time.perf_counter()
    with transaction.atomic(), connection.execute_wrapper(explain):
        storing.insert_select(template, recipients, "default")
    figures["wall"] = time.perf_counter() - began
    figures["cpu"] = time.process_time() + broadcast_store.server_cpu() - cpu
    if connection.vendor == "mysql":
        figures["buffers"] = global_status("Innodb_buffer_pool_read_requests") - pool
    if plans:
        plan = plans[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        top = plan[0]
        node = top["Plan"]
        figures["buffers"] = node["Shared Hit Blocks"] + node["Shared Read Blocks"]
        figures["insert ms"] = top["Execution Time"] - sum(trigger["Time"] for trigger in top.get("Triggers", []))
        for trigger in top.get("Triggers", []):
            name = trigger.get("Constraint Name", trigger["Trigger Name"])
            column = next((column for column in ("recipient", "sender", "target") if column in name), name)
            figures[f"FK {column} ms"] = trigger["Time"]
            figures[f"FK {column} calls"] = trigger["Calls"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="database URL; default: a SQLite file")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="calls per variant, alternating; default 5")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="live-notify-rows-") as workdir:
        broadcast_store.setup(args.database, Path(workdir))
        import os

        broadcast_store.prepare(args.users)
        broadcast_store.log(
            f"broadcast rows, {broadcast_store.server_name()}; {args.users:,} users; "
            f"load {', '.join(f'{load:.2f}' for load in os.getloadavg())}"
        )
        store_once()  # Warm up.
        results: dict[str, list[dict[str, float]]] = {"0.x indexes": [], "0010 indexes": []}
        try:
            for _ in range(args.repeat):
                for variant in results:
                    set_old_indexes(variant == "0.x indexes")
                    results[variant].append(store_once())
        finally:
            set_old_indexes(False)
            broadcast_store.empty_notifications()
        keys = list(results["0010 indexes"][0])
        broadcast_store.log(f"median of {args.repeat}, alternating: " + ", ".join(keys))
        medians = {}
        for variant, runs in results.items():
            medians[variant] = {key: statistics.median(run.get(key, 0) for run in runs) for key in keys}
            broadcast_store.log(f"  {variant:<13} " + "  ".join(f"{key} {medians[variant][key]:.3f}" for key in keys))
        for key in ("cpu", "buffers", "insert ms"):
            if key in keys and medians["0.x indexes"][key]:
                ratio = medians["0010 indexes"][key] / medians["0.x indexes"][key]
                broadcast_store.log(f"  ratio 0010 / 0.x, {key}: {ratio:.2f}")
        broadcast_store.log("  every call, cpu: " + "; ".join(
            f"{variant} " + " ".join(f"{run['cpu']:.3f}" for run in runs) for variant, runs in results.items()
        ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
