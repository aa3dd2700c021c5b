"""Generate a VAPID key pair for Web Push and print the LIVE_NOTIFY lines that use it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_live_notify.push_keys import generate_vapid_keys


class Command(BaseCommand):
    help = (
        "Generate a VAPID key pair (P-256) for Web Push and print the LIVE_NOTIFY settings lines. Keep the "
        "private key secret (an environment variable); a new pair makes every existing subscription useless."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--subject",
            default="mailto:admin@example.com",
            help="Contact push services may write to: a mailto: or https: URL (default: mailto:admin@example.com).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        subject = options["subject"]
        if not subject.startswith(("mailto:", "https://")):
            raise CommandError(f"--subject must be a mailto: or https: URL, not {subject!r}.")
        private_key, public_key = generate_vapid_keys()
        self.stdout.write(f'"WEBPUSH_VAPID_PRIVATE_KEY": "{private_key}",')
        self.stdout.write(f'"WEBPUSH_VAPID_PUBLIC_KEY": "{public_key}",')
        self.stdout.write(f'"WEBPUSH_VAPID_SUBJECT": "{subject}",')
