"""Emptying the notification table between benchmark runs, on any database."""

from __future__ import annotations


def empty_notifications() -> None:
    """Delete every notification and broadcast, and every row of the tables that point at notifications
    (deliveries, ...).

    PostgreSQL and MySQL refuse to truncate a table that another one references, so the tables go together,
    through the backend's own flush statements. SQLite's log is checkpointed afterwards, so that the next run
    does not start behind a large WAL file.
    """
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    from django_live_notify.models import Broadcast, Notification, PendingBroadcast

    tables = [Notification._meta.db_table, Broadcast._meta.db_table, PendingBroadcast._meta.db_table] + [
        model._meta.db_table
        for model in apps.get_app_config("django_live_notify").get_models()
        if any(getattr(field, "related_model", None) is Notification for field in model._meta.fields)
    ]
    with connection.cursor() as cursor:
        for statement in connection.ops.sql_flush(no_style(), tables, allow_cascade=True):
            cursor.execute(statement)
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
