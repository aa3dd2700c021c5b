"""Print delivery and engagement aggregates per notification type and day."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from django_live_notify import stats

COLUMNS = ["sent", "seen", "clicked", "read", "acted", "delivery_p50", "delivery_p95", "read_p50", "read_p95"]


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-01.") from None


class Command(BaseCommand):
    help = (
        "Print, per notification type and UTC day, how many notifications were sent, delivered (live, and per "
        "channel), seen, clicked, read and acted on, with the p50 and p95 seconds from creation to delivery and "
        "from delivery to reading."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", help="First day, YYYY-MM-DD (default: 6 days before --until).")
        parser.add_argument("--until", help="Last day, included, YYYY-MM-DD (default: today, UTC).")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
        parser.add_argument("--type", dest="notification_type", help="Only this notification type.")

    def handle(self, *args: Any, **options: Any) -> None:
        until = parse_day(options["until"]) if options["until"] else timezone.now().date()
        since = parse_day(options["since"]) if options["since"] else until - timedelta(days=6)
        if since > until:
            raise CommandError("--since must not be after --until.")
        if (until - since).days > 366:
            raise CommandError("The range may span at most 366 days; run the command once per year.")
        rows = stats.daily(since, until, options["notification_type"])
        channels = stats.channels_of(rows)
        if options["format"] == "json":
            self.stdout.write(json.dumps([row.as_dict() for row in rows], indent=2))
            return
        header = ["day", "type", "sent", *[f"delivered_{channel}" for channel in channels], *COLUMNS[1:]]
        table = [header]
        for row in rows:
            values = row.as_dict()
            table.append(
                [
                    values["day"],
                    values["type"],
                    str(row.sent),
                    *[str(row.delivered.get(channel, 0)) for channel in channels],
                    *[_cell(values[column]) for column in COLUMNS[1:]],
                ]
            )
        if options["format"] == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerows(table)
            return
        if not rows:
            self.stdout.write(f"No notifications from {since} to {until}.")
            return
        widths = [max(len(line[index]) for line in table) for index in range(len(header))]
        for line in table:
            cells = [
                cell.ljust(width) if index < 2 else cell.rjust(width)
                for index, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            self.stdout.write("  ".join(cells).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
