"""How a ``changed("field")`` rule learns a field's old and new value: one interface over two detectors.

A model with a django-model-utils ``FieldTracker`` on the field already knows
the old value, so nothing is read. Otherwise the registry's ``pre_save``
reads the stored value (one query per save, for every such rule of the model
together) and leaves it on the instance for ``post_save``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from model_utils import FieldTracker

# Where the pre_save query of untracked fields leaves the old values for post_save.
PREVIOUS = "_live_notify_previous"


class ChangeDetector:
    """Tell the old and new value of one field of a saved instance."""

    #: The column the pre_save query must read for this detector, or None when it needs none.
    query_attname: str | None = None

    def old_and_new(self, instance: models.Model, previous: dict[str, Any]) -> tuple[Any, Any] | None:
        """Return (old, new) when the field changed in this save, else None. ``previous`` is what pre_save read."""
        raise NotImplementedError


class TrackerDetector(ChangeDetector):
    """Ask the model's FieldTracker."""

    def __init__(self, tracker_name: str, key: str) -> None:
        self.tracker_name, self.key = tracker_name, key

    def old_and_new(self, instance: models.Model, previous: dict[str, Any]) -> tuple[Any, Any] | None:
        tracker = getattr(instance, self.tracker_name)
        if not tracker.has_changed(self.key):
            return None
        return tracker.previous(self.key), tracker.get_field_value(self.key)


class QueryDetector(ChangeDetector):
    """Compare with the value pre_save read from the database."""

    def __init__(self, attname: str) -> None:
        self.query_attname = attname

    def old_and_new(self, instance: models.Model, previous: dict[str, Any]) -> tuple[Any, Any] | None:
        attname = self.query_attname
        if attname not in previous:
            return None
        old, new = previous[attname], getattr(instance, attname)
        return None if old == new else (old, new)


def detector_for(model: type[models.Model], field: models.Field[Any, Any]) -> ChangeDetector:
    """Return the cheapest detector of ``field``'s changes: a FieldTracker of ``model`` that tracks it, or a query."""
    for klass in model.__mro__:
        for value in vars(klass).values():
            fields = getattr(value, "fields", None) if isinstance(value, FieldTracker) else None
            if isinstance(fields, (set, frozenset, list, tuple)):
                for key in (field.name, field.attname):
                    if key in fields:
                        return TrackerDetector(value.name, key)
    return QueryDetector(field.attname)
