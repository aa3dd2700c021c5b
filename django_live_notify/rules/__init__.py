"""Notification rules: "when this model event happens, notify these users with this text", declared once.

A rule runs in the model's ``post_save`` or ``post_delete`` signal and calls
:func:`~django_live_notify.notify` there, inside the transaction that changed
the row: the notification rows commit or roll back with the change, and the
live send waits for the commit (``notify()`` defers it with ``on_commit``).

The package: :mod:`.events` (what a rule listens to), :mod:`.rule` (the rule),
:mod:`.checks` (its options checked at startup), :mod:`.changes` (how a field's
old value is known) and :mod:`.registry` (the signals that run the rules).
"""

from __future__ import annotations

from .events import ANY, CHANGED, CREATED, DELETED, UPDATED, Changed, Event, changed
from .registry import RuleRegistry, registry
from .rule import Rule

__all__ = [
    "ANY",
    "CHANGED",
    "CREATED",
    "DELETED",
    "UPDATED",
    "Changed",
    "Event",
    "Rule",
    "RuleRegistry",
    "changed",
    "register",
    "registry",
    "unregister",
]

register = registry.register
unregister = registry.unregister
