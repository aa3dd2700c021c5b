"""The registry: keeps the rules and runs them from the model signals."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, TypeVar, overload

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from .changes import PREVIOUS
from .events import DELETED, Event
from .rule import Rule

RuleT = TypeVar("RuleT", bound=Rule)


class RuleRegistry:
    """Keep rules and run them from the model signals, like the admin site keeps ModelAdmins."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._connected: set[type[models.Model]] = set()

    @overload
    def register(self, model_or_rule: type[RuleT], /) -> type[RuleT]: ...
    @overload
    def register(self, model_or_rule: RuleT, /) -> RuleT: ...
    @overload
    def register(self, model_or_rule: type[models.Model] | None = None, /, **options: Any) -> Rule: ...
    def register(
        self, model_or_rule: type[Rule] | Rule | type[models.Model] | None = None, /, **options: Any
    ) -> type[Rule] | Rule:
        """Register a rule: ``register(Model, on=..., ...)``, ``@register`` on a Rule subclass, or a Rule.

        Return the Rule made from the options, or the class or rule given.
        """
        if isinstance(model_or_rule, type) and issubclass(model_or_rule, Rule):
            if options:
                raise TypeError("Give a Rule subclass its options as class attributes, not to register().")
            self._add(model_or_rule())
            return model_or_rule
        if isinstance(model_or_rule, Rule):
            if options:
                raise TypeError("Give a Rule its options when you create it, not to register().")
            self._add(model_or_rule)
            return model_or_rule
        rule = Rule(model=model_or_rule, **options)
        self._add(rule)
        return rule

    def unregister(self, rule: Rule | type[Rule]) -> None:
        """Remove a registered rule, or every registered instance of a Rule subclass."""
        if isinstance(rule, type):
            kept = [registered for registered in self._rules if type(registered) is not rule]
        else:
            kept = [registered for registered in self._rules if registered is not rule]
        if len(kept) == len(self._rules):
            raise LookupError(f"{rule!r} is not registered.")
        self._rules = kept

    def __iter__(self) -> Iterator[Rule]:
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def rules_for(self, model: type[models.Model]) -> list[Rule]:
        """Return the rules registered for ``model``, in the order they were registered."""
        return [rule for rule in self._rules if rule.model is model]

    def _add(self, rule: Rule) -> None:
        if any(registered is rule for registered in self._rules):
            raise ImproperlyConfigured(f"{rule!r} is already registered.")
        if type(rule) is not Rule and any(type(registered) is type(rule) for registered in self._rules):
            raise ImproperlyConfigured(f"{type(rule).__qualname__} is already registered.")
        self._rules.append(rule)
        model = rule.model
        if model not in self._connected:
            # Bound methods are held weakly: a registry that is dropped stops running its rules.
            pre_save.connect(self._pre_save, sender=model)
            post_save.connect(self._post_save, sender=model)
            post_delete.connect(self._post_delete, sender=model)
            self._connected.add(model)  # type: ignore[arg-type]

    def _pre_save(
        self,
        sender: type[models.Model],
        instance: models.Model,
        raw: bool = False,
        using: str | None = None,
        update_fields: frozenset[str] | None = None,
        **kw: Any,
    ) -> None:
        """Read the stored values of untracked fields that changed() rules watch: one query per save."""
        instance.__dict__.pop(PREVIOUS, None)
        if raw or instance._state.adding or instance.pk is None:
            return
        attnames = []
        for rule in self.rules_for(sender):
            attname = rule._query_attname()
            if attname is None or attname in attnames:
                continue
            field = sender._meta.get_field(rule.on.field)  # type: ignore[union-attr]  # an untracked attname means a Changed rule
            if update_fields is None or field.name in update_fields or attname in update_fields:
                attnames.append(attname)
        if attnames:
            row = sender._base_manager.using(using).filter(pk=instance.pk).values(*attnames).first()
            if row is not None:
                instance.__dict__[PREVIOUS] = {name: copy.deepcopy(value) for name, value in row.items()}

    def _post_save(
        self,
        sender: type[models.Model],
        instance: models.Model,
        created: bool = False,
        raw: bool = False,
        update_fields: frozenset[str] | None = None,
        **kw: Any,
    ) -> None:
        previous = instance.__dict__.pop(PREVIOUS, {})
        if raw:
            return  # Fixtures (loaddata) notify nobody.
        fields = None if update_fields is None else frozenset(update_fields)
        for rule in self.rules_for(sender):
            event = rule._event_for_save(instance, created, fields, previous)
            if event is not None:
                _run(rule, event)

    def _post_delete(self, sender: type[models.Model], instance: models.Model, **kw: Any) -> None:
        for rule in self.rules_for(sender):
            if rule.on == DELETED:
                _run(rule, Event(DELETED, instance))


def _run(rule: Rule, event: Event) -> None:
    # A broken rule fails the save like a broken receiver would, with the rule named in the traceback.
    try:
        rule._fire(event)
    except Exception as error:
        error.add_note(
            f"While running notification rule {rule.name!r} ({rule.defined_at}) for {event.kind} "
            f"{event.instance._meta.label} pk={event.instance.pk!r}."
        )
        raise


registry = RuleRegistry()
