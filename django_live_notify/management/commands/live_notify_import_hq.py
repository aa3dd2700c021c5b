"""Copy django-notifications-hq's notifications into ours, reading its table directly (hq need not be installed).

The reading and mapping are in django_live_notify/hq.py; this command parses the options and writes the summary.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from django_live_notify.hq import BATCH_SIZE, TABLE, HqImporter

__all__ = ["BATCH_SIZE", "TABLE", "Command"]


class Command(BaseCommand):
    help = (
        "Copy django-notifications-hq's notifications (its table notifications_notification) into "
        "django-live-notify's, oldest first. Safe to run again: rows already imported are skipped. "
        "Nothing is sent to sockets and no signal is sent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--table", default=TABLE, help=f"hq's table (default: {TABLE}).")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias to read and write.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help=f"Rows per read and insert (default: {BATCH_SIZE}, or fewer where the database takes fewer "
            "parameters in a query: 999 on SQLite).",
        )
        parser.add_argument(
            "--type",
            action="append",
            default=[],
            metavar="LEVEL=TYPE",
            help="Give hq's level LEVEL the notification type TYPE (repeatable). Default: the level itself.",
        )
        parser.add_argument(
            "--deleted",
            choices=("skip", "archive"),
            default="skip",
            help="What to do with the rows hq soft-deleted: skip them (the default), or import them archived, "
            "as our archive is hq's delete.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Read and map everything, store nothing.")
        parser.add_argument("--quiet", action="store_true", help="Print nothing, not even the summary (as -v 0).")

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = 0 if options["quiet"] else options["verbosity"]
        importer = HqImporter(
            table=options["table"],
            database=options["database"],
            batch_size=options["batch_size"],
            type_pairs=options["type"],
            archive_deleted=options["deleted"] == "archive",
            dry_run=options["dry_run"],
            verbosity=verbosity,
            error=self.stderr.write,
            # Uncoloured: progress is no error.
            progress=lambda text: self.stderr.write(text, style_func=str),
        )
        listed, seconds = importer.run()
        if verbosity:
            self.summary(importer, listed, seconds)

    def summary(self, importer: HqImporter, listed: int, seconds: float) -> None:
        counts = importer.counts
        verb = "Would import" if importer.dry_run else "Imported"
        imported = counts["imported"]
        lines = [
            f"{verb} {imported:,} of {listed:,} notification(s) from {importer.table} in {seconds:.1f} s "
            f"({counts['read']:,} read, {imported - counts['read']:,} unread"
            + (f", {counts['archived']:,} of them archived" if importer.archive_deleted else "")
            + ").",
            f"Skipped: {counts['already imported']:,} already imported, {counts['soft-deleted']:,} soft-deleted, "
            f"{counts['recipient gone']:,} whose recipient no longer exists.",
        ]
        notes = ["actor gone", "bad JSON data", "data not an object", "url refused", "target id too long"]
        noted = [f"{counts[note]:,} {note}" for note in notes if counts[note]]
        if noted:
            lines.append("Kept with a note in data['hq']: " + ", ".join(noted) + ".")
        for line in lines:
            self.stdout.write(line)
