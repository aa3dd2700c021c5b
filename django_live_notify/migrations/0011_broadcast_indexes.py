"""The import key's uniqueness becomes a partial unique index where the database has them: the rows that
notify() and broadcast() store (no import key) no longer enter it, nor, on PostgreSQL, the ``_like`` index
that ``unique=True`` added. MySQL and MariaDB keep a plain unique index (NULLs never collide there).

The new index is built first, concurrently on PostgreSQL, so the key stays unique throughout; then the old
constraint goes (on SQLite by rebuilding the table, as any change of a column does there).
"""

from django.db import migrations, models

import django_live_notify.models
from django_live_notify.indexes import AddUniqueIndexOnline, DropFieldUnique


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY, which keeps the table writable on PostgreSQL, cannot run in a transaction.
    atomic = False

    dependencies = [
        ("django_live_notify", "0010_delivery"),
    ]

    operations = [
        AddUniqueIndexOnline(
            model_name="notification",
            constraint=django_live_notify.models.ConditionalUniqueConstraint(
                fields=("import_key",), name="live_notify_import_key", where=models.Q(("import_key__isnull", False))
            ),
        ),
        DropFieldUnique(
            model_name="notification",
            name="import_key",
            field=models.CharField(blank=True, editable=False, max_length=255, null=True, verbose_name="import key"),
        ),
    ]
