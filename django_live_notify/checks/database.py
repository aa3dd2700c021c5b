"""The database the notifications are written to: a SQLite file's transaction mode (W004)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import router


@register(Tags.compatibility)
def check_sqlite_transactions(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W004: a SQLite file database should begin its transactions IMMEDIATE."""
    from ..models import Notification

    alias = router.db_for_write(Notification)
    database = settings.DATABASES.get(alias, {})
    name = str(database.get("NAME") or "")
    if database.get("ENGINE") != "django.db.backends.sqlite3" or name == ":memory:" or "mode=memory" in name:
        return []
    mode = str((database.get("OPTIONS") or {}).get("transaction_mode") or "DEFERRED")
    if mode.upper() in ("IMMEDIATE", "EXCLUSIVE"):
        return []
    return [
        Warning(
            f"SQLite database {alias!r} begins transactions {mode.upper()}: when two processes send "
            "notifications at once, one fails with 'database is locked'.",
            hint=(
                f'Set DATABASES[{alias!r}]["OPTIONS"] = {{"transaction_mode": "IMMEDIATE", '
                '"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}.'
            ),
            id="django_live_notify.W004",
        )
    ]
