"""List the notification rules a project registered: which model events notify whom."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_live_notify.rules import registry

# The lines printed under each rule's name, in this order; optional ones only when set.
FIELDS = [
    ("model", "model"),
    ("on", "on"),
    ("recipients", "recipients"),
    ("notification_type", "type"),
    ("title", "title"),
    ("sender", "sender"),
    ("target", "target"),
    ("group_key", "group key"),
    ("actions", "actions"),
    ("when", "when"),
    ("defined_at", "defined at"),
]
OPTIONAL = frozenset({"group_key", "actions"})


class Command(BaseCommand):
    help = "List every registered notification rule: its model, event, recipients, type and condition."

    def handle(self, *args: Any, **options: Any) -> None:
        rules = list(registry)
        if not rules:
            self.stdout.write("No notification rules are registered.")
            return
        width = max(len(label) for _key, label in FIELDS) + 2
        blocks = []
        for rule in rules:
            description = rule.describe()
            lines = [self.style.MIGRATE_HEADING(description["name"])]
            lines += [
                f"  {label + ':':<{width}}{description[key]}"
                for key, label in FIELDS
                if description[key] or key not in OPTIONAL
            ]
            blocks.append("\n".join(lines))
        self.stdout.write("\n\n".join(blocks))
        self.stdout.write(f"\n{len(rules)} notification rule(s).")
