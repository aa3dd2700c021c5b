"""What a rule listens to: the events of a model's rows, and "this field changed"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
CHANGED = "changed"
EVENTS = (CREATED, UPDATED, DELETED)


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


@dataclass(frozen=True)
class Changed:
    """The event "this field of a saved row changed", optionally only from ``old`` or to ``new``.

    ``old`` and ``new`` are a value, or a list, tuple or set of values any of
    which matches; :data:`ANY` (the default) matches every value.
    """

    field: str
    old: Any = ANY
    new: Any = ANY

    def matches(self, old: Any, new: Any) -> bool:
        """Return whether a change from ``old`` to ``new`` is one this event describes."""
        return _matches(self.old, old) and _matches(self.new, new)

    def __str__(self) -> str:
        arguments = [repr(self.field)]
        arguments += [
            f"{name}={value!r}" for name, value in (("old", self.old), ("new", self.new)) if value is not ANY
        ]
        return f"changed({', '.join(arguments)})"


def changed(field: str, *, old: Any = ANY, new: Any = ANY) -> Changed:
    """Return the event "``field`` of a saved row changed", for ``Rule.on``."""
    return Changed(field, old, new)


def _matches(expected: Any, value: Any) -> bool:
    if expected is ANY:
        return True
    if isinstance(expected, (list, tuple, set, frozenset)):
        return value in expected
    equal: bool = value == expected
    return equal


@dataclass(frozen=True)
class Event:
    """What happened to one instance. Every callable of a rule receives it after the instance.

    ``kind`` is ``"created"``, ``"updated"``, ``"deleted"`` or ``"changed"``.
    For ``"changed"``, ``field`` names the field and ``old`` and ``new`` hold its
    values before and after the save (for a foreign key, the ids).
    ``update_fields`` is what ``save(update_fields=...)`` was given, or None.
    """

    kind: str
    instance: models.Model
    field: str | None = None
    old: Any = None
    new: Any = None
    update_fields: frozenset[str] | None = None
