"""Sweep the delivery records: recover stale claims, record what a lost message left out, send what is due."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_live_notify import delivery
from django_live_notify.backends import get_backends


class Command(BaseCommand):
    help = (
        "Send the notifications due on the channels of DELIVERY_BACKENDS (email, web push). Runs every --interval "
        "seconds until stopped, or once with --once. Run it next to `runworker live-notify-delivery`."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between sweeps (default 15).")

    def handle(self, *args: Any, once: bool = False, interval: float = 15.0, **options: Any) -> None:
        if not get_backends():
            raise CommandError("LIVE_NOTIFY['DELIVERY_BACKENDS'] is empty: there is nothing to deliver.")
        if interval <= 0:
            raise CommandError("--interval must be more than 0 seconds.")
        if once:
            counts = delivery.sweep()
            self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"Sweeping deliveries every {interval:g} s; stop with Ctrl+C or SIGTERM.")
        try:
            delivery.sweep_forever(interval, stop=lambda: bool(stopping))
        except KeyboardInterrupt:
            pass
