"""Send a notification from the command line: to some users, or to every active user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from django_live_notify.hub import sweep_interval
from django_live_notify.publish import failure_count, layer
from django_live_notify.sending import broadcast, notify

# The exit status when the notification was stored but its live send failed (the channel layer is down):
# open pages get it from their server's recovery sweep once the layer is back, others on their next page load.
STORED_NOT_SENT = 3


class Command(BaseCommand):
    help = "Store and send a notification to users (by username) or to every active user (--all)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("usernames", nargs="*", help="Recipients' usernames.")
        parser.add_argument("--all", action="store_true", help="Notify every active user (a broadcast).")
        parser.add_argument("--title", required=True)
        parser.add_argument("--message", default="")
        parser.add_argument("--type", dest="notification_type", default=None)
        parser.add_argument("--url", default="")

    def handle(self, *usernames: str, **options: Any) -> None:
        usernames = tuple(options.get("usernames") or usernames)
        if options["all"] == bool(usernames):
            raise CommandError("Give either usernames or --all, not both and not neither.")
        failures = failure_count()
        try:
            if options["all"]:
                count = broadcast(
                    title=options["title"], message=options["message"], notification_type=options["notification_type"]
                )
            else:
                user_model = get_user_model()
                users = list(user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": usernames}))
                found = {user.get_username() for user in users}
                missing = sorted(set(usernames) - found)
                if missing:
                    raise CommandError("No such user(s): " + ", ".join(missing))
                rows = notify(
                    users,
                    title=options["title"],
                    message=options["message"],
                    notification_type=options["notification_type"],
                    url=options["url"],
                )
                count = len(rows)  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            raise CommandError(str(error)) from error
        if failure_count() > failures:
            raise CommandError(
                f"Stored the notification for {count} user(s) without sending it live: the channel layer "
                "failed (see the log). Open pages get it from their server's recovery sweep once the layer "
                "is back, others on their next page load.",
                returncode=STORED_NOT_SENT,
            )
        if options["verbosity"]:
            self.stdout.write(f"Notified {count} user(s).")
        if count and layer() is None:
            sweep = sweep_interval()
            self.stderr.write(
                "The channel layer is in-memory, so this command's live send cannot reach your server processes: "
                f"open pages get the notification from their server's recovery sweep {sweep:g} to {2 * sweep:g} s "
                "from now, and others on their next page load. Use channels_redis to deliver it at once.",
                self.style.WARNING,
            )
