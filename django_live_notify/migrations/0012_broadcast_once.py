"""Broadcasts stored once: the broadcast's row, and a narrow row per recipient whose notification row is not written
yet (see django_live_notify/fanout.py). Two new tables; the notification table is not touched.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_live_notify", "0011_broadcast_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Broadcast",
            fields=[
                ("id", models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ("notification_type", models.CharField(max_length=64, verbose_name="type")),
                ("title", models.CharField(max_length=255, verbose_name="title")),
                ("message", models.TextField(blank=True, default="", verbose_name="message")),
                ("expires_at", models.DateTimeField(blank=True, null=True, verbose_name="expires at")),
                ("created", models.DateTimeField(verbose_name="created")),
                ("recipients", models.PositiveIntegerField(default=0, verbose_name="recipients")),
            ],
            options={
                "verbose_name": "broadcast",
                "verbose_name_plural": "broadcasts",
            },
        ),
        migrations.CreateModel(
            name="PendingBroadcast",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "user_id", "broadcast_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("silent", models.BooleanField(default=False, verbose_name="silent")),
                (
                    "broadcast",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pending",
                        to="django_live_notify.broadcast",
                        verbose_name="broadcast",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "pending broadcast",
                "verbose_name_plural": "pending broadcasts",
            },
        ),
    ]
