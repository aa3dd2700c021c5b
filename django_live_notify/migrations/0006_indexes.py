import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from django_live_notify.indexes import AddIndexOnline, DropFieldIndex, RemoveIndexOnline


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY, which keeps the table writable on PostgreSQL, cannot run in a transaction.
    atomic = False

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_live_notify", "0005_inbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexOnline(
            model_name="notification",
            index=models.Index(fields=["broadcast_id", "recipient"], name="live_notify_broadcast"),
        ),
        AddIndexOnline(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("sender__isnull", False)), fields=["sender"], name="live_notify_sender"
            ),
        ),
        AddIndexOnline(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("target_content_type__isnull", False)),
                fields=["target_content_type", "target_object_id"],
                name="live_notify_targeted",
            ),
        ),
        RemoveIndexOnline(model_name="notification", name="live_notify_target"),
        AddIndexOnline(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("expires_at__isnull", False)), fields=["expires_at"], name="live_notify_expiring"
            ),
        ),
        DropFieldIndex(
            model_name="notification",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="expires at"),
        ),
        DropFieldIndex(
            model_name="notification",
            name="sender",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="sender",
            ),
        ),
        DropFieldIndex(
            model_name="notification",
            name="target_content_type",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="contenttypes.contenttype",
                verbose_name="target type",
            ),
        ),
    ]
