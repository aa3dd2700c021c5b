"""Delete read notifications past the retention period, and expired ones, in batches."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q, QuerySet
from django.utils import timezone

from django_live_notify import fanout
from django_live_notify.conf import live_settings
from django_live_notify.models import Notification


class Command(BaseCommand):
    help = (
        "Delete read notifications older than LIVE_NOTIFY['RETENTION_DAYS'] (or --days; imported ones counted "
        "from their import) and every expired notification, a batch at a time. Unread notifications that have "
        "not expired are kept. Broadcasts stored once go when they expire, or past the retention period once "
        "every recipient's row is written."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Delete read notifications older than this many days (default: LIVE_NOTIFY['RETENTION_DAYS']).",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per DELETE (default: 1000).")
        parser.add_argument("--quiet", action="store_true", help="Print nothing, not even the total (as -v 0).")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else live_settings.retention_days
        batch_size = options["batch_size"]
        if days is not None and days < 0:
            raise CommandError("--days must not be negative.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.verbosity = 0 if options["quiet"] else options["verbosity"]
        now = timezone.now()
        expired = self.delete_in_batches(Notification.objects.filter(expires_at__lte=now), batch_size, "expired")
        old = 0
        if days is None:
            self.say("RETENTION_DAYS is None: read notifications are kept.")
        else:
            cutoff = now - timedelta(days=days)
            # An imported row's retention counts from its import, not from its (often old) creation.
            old_enough = Q(imported_at__isnull=True, created__lt=cutoff) | Q(imported_at__lt=cutoff)
            read = Notification.objects.filter(old_enough, read_at__isnull=False)
            old = self.delete_in_batches(read, batch_size, f"read and older than {days} day(s)")
        self.say(f"Deleted {expired + old:,} notification(s): {expired:,} expired, {old:,} read and old.")
        broadcasts, pending = fanout.drop_ended(now, None if days is None else now - timedelta(days=days))
        if broadcasts:
            self.say(f"Deleted {broadcasts:,} ended broadcast(s), with {pending:,} recipient(s) who never read them.")

    def delete_in_batches(self, rows: QuerySet[Notification], batch_size: int, what: str) -> int:
        """Delete ``rows`` a batch at a time in id order, so no DELETE holds locks for long; return how many.

        Each batch starts after the last id of the one before: the whole run reads the table once.
        Unless quiet, each batch prints the running count to stderr, against a total counted once
        before the first batch (approximate: rows may expire or be read meanwhile).
        """
        total = rows.count() if self.verbosity else 0
        started = time.monotonic()
        deleted = 0
        last_id = 0
        while True:
            ids = list(rows.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            # Each batch commits on its own (autocommit); a rerun carries on where an interrupted one stopped.
            # Count the notifications only, not their delivery records deleted with them.
            deleted += Notification.objects.filter(pk__in=ids).delete()[1].get(Notification._meta.label, 0)
            last_id = ids[-1]
            self.progress(
                f"{what}: deleted {deleted:,} of ~{max(total, deleted):,} notification(s) "
                f"in {time.monotonic() - started:.1f} s"
            )

    def say(self, text: str) -> None:
        """Write a result to stdout, unless quiet."""
        if self.verbosity:
            self.stdout.write(text)

    def progress(self, text: str) -> None:
        """Write a progress line to stderr (uncoloured: it is no error), unless quiet."""
        if self.verbosity:
            self.stderr.write(text, style_func=str)
