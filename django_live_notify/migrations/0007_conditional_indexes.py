"""Three partial indexes become ConditionalIndex: the same SQL on every database, without models.W037 on MariaDB.

Migration state only: PostgreSQL and SQLite already have the partial indexes, and MySQL and MariaDB the plain
ones that Index(condition=...) left there; nothing is rebuilt.
"""

from django.db import migrations, models

import django_live_notify.models


def conditional(fields, name, where):
    return django_live_notify.models.ConditionalIndex(fields=fields, name=name, plain_fields=fields, where=where)


class Migration(migrations.Migration):
    dependencies = [
        ("django_live_notify", "0006_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="notification", name="live_notify_sender"),
                migrations.RemoveIndex(model_name="notification", name="live_notify_targeted"),
                migrations.RemoveIndex(model_name="notification", name="live_notify_expiring"),
                migrations.AddIndex(
                    model_name="notification",
                    index=conditional(
                        ["target_content_type", "target_object_id"],
                        "live_notify_targeted",
                        models.Q(("target_content_type__isnull", False)),
                    ),
                ),
                migrations.AddIndex(
                    model_name="notification",
                    index=conditional(["expires_at"], "live_notify_expiring", models.Q(("expires_at__isnull", False))),
                ),
                migrations.AddIndex(
                    model_name="notification",
                    index=conditional(["sender"], "live_notify_sender", models.Q(("sender__isnull", False))),
                ),
            ],
            database_operations=[],
        ),
    ]
