"""Notification rules: "when this model event happens, notify these users with this text", declared once.

A rule runs in the model's ``post_save`` or ``post_delete`` signal and calls
:func:`~django_live_notify.notify` there, inside the transaction that changed
the row: the notification rows commit or roll back with the change, and the
live send waits for the commit (``notify()`` defers it with ``on_commit``).
"""

from __future__ import annotations

import copy
import re
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ObjectDoesNotExist
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import Truncator
from model_utils import FieldTracker

from .actions import has_safe_scheme

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

CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
CHANGED = "changed"
EVENTS = (CREATED, UPDATED, DELETED)

# Names a title, message or url format string may use.
FORMAT_NAMES = frozenset({"instance", "event", "old", "new", "sender"})
# And a group_title: how many notifications the group holds, and how many besides the newest.
GROUP_FORMAT_NAMES = FORMAT_NAMES | {"count", "others"}

# Where the pre_save query of untracked fields leaves the old values for post_save.
_PREVIOUS = "_live_notify_previous"


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
    return value == expected


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


class Rule:
    """A notification sent whenever an event happens to an instance of ``model``.

    Give the options as keyword arguments, or as class attributes of a subclass
    registered with ``@register``. An option may be a callable; it is called
    with ``(instance, event)``, and in a subclass it is written as a method.
    """

    #: The model whose events fire the rule.
    model: type[models.Model] | None = None
    #: ``"created"``, ``"updated"``, ``"deleted"``, or ``changed("field", old=..., new=...)``.
    on: str | Changed | None = None
    #: Who is notified: a field path ("provider", "order.customer"), or a callable that returns
    #: a user, an iterable of users, a QuerySet of users or None.
    recipients: Any = None
    #: Leave the sender out of the recipients.
    exclude_sender: bool = False
    #: Format strings over ``instance``, ``event``, ``old``, ``new`` and ``sender``
    #: (plain or lazy strings), or callables returning the final text.
    title: Any = None
    message: Any = ""
    #: One of LIVE_NOTIFY["NOTIFICATION_TYPES"] (or a callable); None means the default type.
    notification_type: Any = None
    #: Who the notification is from: a field path, a callable, or None.
    sender: Any = None
    #: Where the notification leads: a format string, a callable, or None for the target's get_absolute_url().
    url: Any = None
    #: Extra JSON data: a dict, or a callable returning one.
    data: Any = None
    #: Fold notifications into the recipient's unread one with this key: a format string, a callable, or None.
    group_key: Any = None
    #: The title of a grouped notification once it holds two or more: a format string that may also use
    #: ``{count}`` and ``{others}``, or a callable returning one (or returning a callable of the count).
    group_title: Any = None
    #: Buttons: a list of action dicts (``label`` and ``url`` may be format strings), or a callable returning one.
    actions: Any = None
    #: A condition: a callable; the rule fires only when it returns a true value.
    when: Any = None
    #: The rule's name in listings and error messages.
    name: str = ""

    OPTIONS = (
        "model",
        "on",
        "recipients",
        "exclude_sender",
        "title",
        "message",
        "notification_type",
        "sender",
        "target",
        "url",
        "data",
        "group_key",
        "group_title",
        "actions",
        "when",
        "name",
    )

    def __init__(self, **options: Any) -> None:
        for key, value in options.items():
            if key not in self.OPTIONS:
                raise TypeError(f"{type(self).__name__}() got an unknown option {key!r}")
            setattr(self, key, value)
        if type(self) is Rule:
            self.defined_at = _caller()
        else:
            self.defined_at = f"{type(self).__module__}.{type(self).__qualname__}"
        self._tracker: tuple[str, str] | None = None
        self._check()
        if not self.name:
            self.name = type(self).__name__ if type(self) is not Rule else f"{self.model._meta.label} {self.on}"  # type: ignore[union-attr]  # _check() ensured a model

    def target(self, instance: models.Model, event: Event) -> models.Model | None:
        """Return what the notification is about: the instance, or None once its row is deleted."""
        return None if event.kind == DELETED else instance

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name}>"

    def describe(self) -> dict[str, str]:
        """Return the rule's settings as text, for listings."""
        recipients = _describe(self.recipients)
        if self.exclude_sender:
            recipients += " (except the sender)"
        target = "the instance (none once deleted)" if _is_default(self, "target") else _describe(self.target)
        return {
            "name": self.name,
            "model": self.model._meta.label,  # type: ignore[union-attr]
            "on": str(self.on),
            "recipients": recipients,
            "notification_type": _describe(self.notification_type, "the default type"),
            "title": _describe(self.title),
            "sender": _describe(self.sender, "none"),
            "target": target,
            "group_key": _describe(self.group_key),
            "actions": _describe_actions(self.actions),
            "when": _describe(self.when, "always"),
            "defined_at": self.defined_at,
        }

    # Checked once, when the rule is created: mistakes show at startup, not on the first save.

    def _check(self) -> None:
        model = self.model
        if not (isinstance(model, type) and issubclass(model, models.Model)):
            raise ImproperlyConfigured(f"{self._label()}: model must be a model class, not {model!r}.")
        if model._meta.abstract:
            raise ImproperlyConfigured(f"{self._label()}: {model.__name__} is abstract; register its concrete models.")
        if model._meta.label == "django_live_notify.Notification":
            raise ImproperlyConfigured(
                f"{self._label()}: rules cannot watch Notification; use the notification_created signal."
            )
        if isinstance(self.on, Changed):
            self._check_changed(model, self.on)
        elif self.on not in EVENTS:
            raise ImproperlyConfigured(
                f"{self._label()}: on must be 'created', 'updated', 'deleted' or changed('field'), not {self.on!r}."
            )
        if self.recipients is None:
            raise ImproperlyConfigured(f"{self._label()}: recipients is required.")
        for option in ("recipients", "sender", "target"):
            value = getattr(self, option)
            if isinstance(value, str):
                self._check_path(model, option, value)
            elif value is not None and not callable(value):
                raise ImproperlyConfigured(
                    f"{self._label()}: {option} must be a field path, a callable or None, not {value!r}."
                )
        if self.title is None or (isinstance(self.title, str) and not self.title.strip()):
            raise ImproperlyConfigured(f"{self._label()}: title is required.")
        for option in ("title", "message", "url", "group_key", "group_title"):
            value = getattr(self, option)
            if isinstance(value, (str, Promise)):
                self._check_format(option, value, GROUP_FORMAT_NAMES if option == "group_title" else FORMAT_NAMES)
            elif value is not None and not callable(value):
                raise ImproperlyConfigured(f"{self._label()}: {option} must be a string or a callable, not {value!r}.")
        self._check_url()
        self._check_actions()
        if self.data is not None and not isinstance(self.data, dict) and not callable(self.data):
            raise ImproperlyConfigured(f"{self._label()}: data must be a dict or a callable, not {self.data!r}.")
        if self.when is not None and not callable(self.when):
            raise ImproperlyConfigured(f"{self._label()}: when must be a callable, not {self.when!r}.")
        self._check_notification_type()

    def _check_changed(self, model: type[models.Model], on: Changed) -> None:
        try:
            field = model._meta.get_field(on.field)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(f"{self._label()}: {model.__name__} has no field {on.field!r}.") from None
        if not field.concrete or field.many_to_many:
            raise ImproperlyConfigured(
                f"{self._label()}: changed({on.field!r}) needs a field stored in the model's table; "
                "many-to-many changes are not saves (listen to m2m_changed)."
            )
        if field.choices:
            allowed = {value for value, _label in field.flatchoices}
            for name in ("old", "new"):
                expected = getattr(on, name)
                values = expected if isinstance(expected, (list, tuple, set, frozenset)) else [expected]
                unknown = [value for value in values if value is not ANY and value not in allowed]
                if unknown:
                    raise ImproperlyConfigured(
                        f"{self._label()}: {name}={unknown[0]!r} is not a choice of {model.__name__}.{on.field}."
                    )
        self._tracker = _find_tracker(model, field)

    def _check_path(self, model: type[models.Model], option: str, path: str) -> None:
        current: Any = model
        for name in path.split("."):
            if not name.isidentifier():
                raise ImproperlyConfigured(f"{self._label()}: {option}={path!r} is not a dotted field path.")
            if current is None:
                continue  # Past a property or a reverse accessor: checked when the rule fires.
            if not hasattr(current, name):
                raise ImproperlyConfigured(
                    f"{self._label()}: {option}={path!r}: {current.__name__} has no attribute {name!r}."
                )
            try:
                related = current._meta.get_field(name).related_model
            except (FieldDoesNotExist, AttributeError):
                related = None
            current = related if isinstance(related, type) else None

    def _check_url(self) -> None:
        if isinstance(self.url, (str, Promise)):
            # The text before the first field fixes the scheme: "javascript:{instance.pk}" is never safe.
            fixed = str(self.url).split("{", 1)[0]
            if not has_safe_scheme(fixed):
                raise ImproperlyConfigured(f"{self._label()}: url must be relative or http(s), not {str(self.url)!r}.")

    def _check_actions(self) -> None:
        actions = self.actions
        if actions is None or callable(actions):
            return
        if not isinstance(actions, (list, tuple)) or not all(isinstance(action, dict) for action in actions):
            raise ImproperlyConfigured(
                f"{self._label()}: actions must be a list of dicts or a callable, not {actions!r}."
            )
        for action in actions:
            for key in ("label", "url"):
                if isinstance(action.get(key), (str, Promise)):
                    self._check_format(f"action {key}", action[key])

    def _check_format(self, option: str, text: str | Promise, names: frozenset[str] = FORMAT_NAMES) -> None:
        if isinstance(text, Promise):
            # The source string, not a translation: catalogs are checked when the rule fires.
            with translation.override(None):
                text = str(text)
        try:
            fields = [parsed[1] for parsed in string.Formatter().parse(text) if parsed[1] is not None]
        except ValueError as error:
            raise ImproperlyConfigured(
                f"{self._label()}: {option} {text!r} is not a format string: {error}."
            ) from None
        for field in fields:
            head = re.split(r"[.\[]", field, maxsplit=1)[0]
            if head not in names:
                raise ImproperlyConfigured(
                    f"{self._label()}: {option} {text!r} uses {{{field}}}; format strings may use "
                    + ", ".join(f"{{{name}}}" for name in sorted(names))
                    + " (write literal braces as {{ and }})."
                )

    def _check_notification_type(self) -> None:
        from .conf import live_settings

        allowed = live_settings.NOTIFICATION_TYPES
        value = self.notification_type
        if value is None or callable(value):
            return
        if not isinstance(value, str):
            raise ImproperlyConfigured(f"{self._label()}: notification_type must be a string or a callable.")
        if allowed is not None and value not in {choice for choice, _label in allowed}:
            raise ImproperlyConfigured(
                f"{self._label()}: notification_type {value!r} is not in LIVE_NOTIFY['NOTIFICATION_TYPES']."
            )

    def _label(self) -> str:
        if self.name:
            return f"Notification rule {self.name!r}"
        if type(self) is not Rule:
            return f"Notification rule {type(self).__qualname__}"
        return f"Notification rule at {self.defined_at}"

    # Run from the signals.

    def _event_for_save(
        self, instance: models.Model, created: bool, update_fields: frozenset[str] | None, previous: dict[str, Any]
    ) -> Event | None:
        """Return the event this save is for this rule, or None when the rule does not listen to it."""
        on = self.on
        if created:
            return Event(CREATED, instance, update_fields=update_fields) if on == CREATED else None
        if on == UPDATED:
            return Event(UPDATED, instance, update_fields=update_fields)
        if not isinstance(on, Changed):
            return None
        field: models.Field[Any, Any] = instance._meta.get_field(on.field)  # type: ignore[assignment]  # _check() ensured a concrete field
        if update_fields is not None and field.name not in update_fields and field.attname not in update_fields:
            return None
        if self._tracker is not None:
            tracker_name, key = self._tracker
            tracker = getattr(instance, tracker_name)
            if not tracker.has_changed(key):
                return None
            old, new = tracker.previous(key), tracker.get_field_value(key)
        else:
            if field.attname not in previous:
                return None
            old, new = previous[field.attname], getattr(instance, field.attname)
            if old == new:
                return None
        if not on.matches(old, new):
            return None
        return Event(CHANGED, instance, field=on.field, old=old, new=new, update_fields=update_fields)

    def _untracked_attname(self) -> str | None:
        """Return the column a pre_save query must read for this rule, if any."""
        if isinstance(self.on, Changed) and self._tracker is None:
            return self.model._meta.get_field(self.on.field).attname  # type: ignore[union-attr]
        return None

    def _fire(self, event: Event) -> Any:
        """Store and send this rule's notification for ``event``, unless its condition says no."""
        from .api import notify

        instance = event.instance
        if self.when is not None and not self.when(instance, event):
            return None
        sender = self._follow("sender", instance, event)
        if sender is not None and not isinstance(sender, get_user_model()):
            raise TypeError(f"sender must be a user or None, not {sender!r}")
        recipients = self._recipients(instance, event, sender)
        if recipients is None:
            return None
        target = self._follow("target", instance, event)
        context = {"instance": instance, "event": event, "old": event.old, "new": event.new, "sender": sender}
        title = self._text("title", instance, event, context)
        if isinstance(title, str):
            title = Truncator(title).chars(_title_max_length())
        if self.url is None:
            url = target.get_absolute_url() if hasattr(target, "get_absolute_url") else ""
        else:
            url = self._text("url", instance, event, context)
        return notify(
            recipients,
            title=title,
            message=self._text("message", instance, event, context),
            notification_type=self._value("notification_type", instance, event),
            sender=sender,
            target=target,
            url=url,
            data=self._value("data", instance, event),
            group_key=self._text("group_key", instance, event, context),
            group_title=self._group_title(instance, event, context),
            actions=self._actions(instance, event, context),
        )

    def _group_title(self, instance: models.Model, event: Event, context: dict[str, Any]) -> Any:
        value = self.group_title
        if callable(value):
            value = value(instance, event)
            return str(value) if isinstance(value, Promise) else value
        if value is None:
            return None
        # Formatted once the count is known; a lazy string is translated now.
        text = str(value)
        return lambda count: text.format(**context, count=count, others=count - 1)

    def _actions(self, instance: models.Model, event: Event, context: dict[str, Any]) -> Any:
        value = self.actions
        if callable(value):
            return value(instance, event)
        if value is None:
            return None
        actions = []
        for action in value:
            action = dict(action)
            for key in ("label", "url"):
                if isinstance(action.get(key), (str, Promise)):
                    action[key] = str(action[key]).format(**context)
            actions.append(action)
        return actions

    def _value(self, option: str, instance: models.Model, event: Event) -> Any:
        value = getattr(self, option)
        return value(instance, event) if callable(value) else value

    def _follow(self, option: str, instance: models.Model, event: Event) -> Any:
        value = getattr(self, option)
        if callable(value):
            return value(instance, event)
        if value is None:
            return None
        for name in value.split("."):
            try:
                instance = getattr(instance, name)
            except ObjectDoesNotExist:
                return None  # A reverse one-to-one with no row.
            if instance is None:
                return None
        return instance

    def _text(self, option: str, instance: models.Model, event: Event, context: dict[str, Any]) -> Any:
        value = getattr(self, option)
        if callable(value):
            value = value(instance, event)
            return str(value) if isinstance(value, Promise) else value
        if value is None:
            return ""
        # A lazy string is translated now, in the language active for this thread.
        return str(value).format(**context)

    def _recipients(self, instance: models.Model, event: Event, sender: Any) -> Any:
        """Return the recipients as a QuerySet or a non-empty list of users, or None for nobody."""
        value = self._follow("recipients", instance, event)
        user_model = get_user_model()
        if isinstance(value, models.Manager):
            value = value.all()  # A related manager: "project.members".
        if isinstance(value, models.QuerySet):
            if not issubclass(value.model, user_model):
                raise TypeError(f"recipients must be users, got a QuerySet of {value.model._meta.label}")
            if self.exclude_sender and sender is not None:
                value = value.exclude(pk=sender.pk)
            return value
        if value is None:
            return None
        if isinstance(value, models.Model):
            value = [value]
        elif isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"recipients must be users, got {type(value).__name__} {value!r}")
        users = [user for user in value if user is not None]
        for user in users:
            if not isinstance(user, user_model) or user.pk is None:
                what = f"{user._meta.label} {user!r}" if isinstance(user, models.Model) else repr(user)
                unsaved = "an unsaved " if isinstance(user, user_model) else ""
                raise TypeError(f"recipients must be users, got {unsaved}{what}")
        if self.exclude_sender and sender is not None:
            users = [user for user in users if user.pk != sender.pk]
        return users or None


class RuleRegistry:
    """Keep rules and run them from the model signals, like the admin site keeps ModelAdmins."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._connected: set[type[models.Model]] = set()

    def register(self, model_or_rule: Any = None, /, **options: Any) -> Any:
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

    def __iter__(self) -> Any:
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
        sender: Any,
        instance: Any,
        raw: bool = False,
        using: str | None = None,
        update_fields: Any = None,
        **kw: Any,
    ) -> None:
        """Read the stored values of untracked fields that changed() rules watch: one query per save."""
        instance.__dict__.pop(_PREVIOUS, None)
        if raw or instance._state.adding or instance.pk is None:
            return
        attnames = []
        for rule in self.rules_for(sender):
            attname = rule._untracked_attname()
            if attname is None or attname in attnames:
                continue
            field = sender._meta.get_field(rule.on.field)  # type: ignore[union-attr]  # an untracked attname means a Changed rule
            if update_fields is None or field.name in update_fields or attname in update_fields:
                attnames.append(attname)
        if attnames:
            row = sender._base_manager.using(using).filter(pk=instance.pk).values(*attnames).first()
            if row is not None:
                instance.__dict__[_PREVIOUS] = {name: copy.deepcopy(value) for name, value in row.items()}

    def _post_save(
        self,
        sender: Any,
        instance: Any,
        created: bool = False,
        raw: bool = False,
        update_fields: Any = None,
        **kw: Any,
    ) -> None:
        previous = instance.__dict__.pop(_PREVIOUS, {})
        if raw:
            return  # Fixtures (loaddata) notify nobody.
        fields = None if update_fields is None else frozenset(update_fields)
        for rule in self.rules_for(sender):
            event = rule._event_for_save(instance, created, fields, previous)
            if event is not None:
                _run(rule, event)

    def _post_delete(self, sender: Any, instance: Any, **kw: Any) -> None:
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


def _find_tracker(model: type[models.Model], field: models.Field) -> tuple[str, str] | None:
    """Return (attribute, tracked name) of a FieldTracker of ``model`` that tracks ``field``, or None."""
    for klass in model.__mro__:
        for value in vars(klass).values():
            fields = getattr(value, "fields", None) if isinstance(value, FieldTracker) else None
            if isinstance(fields, (set, frozenset, list, tuple)):
                for key in (field.name, field.attname):
                    if key in fields:
                        return value.name, key
    return None


def _title_max_length() -> int:
    from .models import Notification

    return Notification._meta.get_field("title").max_length  # type: ignore[return-value]


def _is_default(rule: Rule, option: str) -> bool:
    return option not in vars(rule) and getattr(type(rule), option) is getattr(Rule, option)


def _describe(value: Any, none: str = "") -> str:
    if value is None:
        return none
    if isinstance(value, (str, Promise)):
        return str(value)
    func = getattr(value, "__func__", value)
    name = getattr(func, "__qualname__", None)
    code = getattr(func, "__code__", None)
    if name is None:
        return repr(value)
    if name.endswith("<lambda>") and code is not None:
        return f"lambda at {func.__module__}:{code.co_firstlineno}"
    return f"{func.__module__}.{name}()"


def _describe_actions(actions: Any) -> str:
    if isinstance(actions, (list, tuple)):
        return ", ".join(f"{action.get('label')} ({str(action.get('method', 'GET')).upper()})" for action in actions)
    return _describe(actions)


def _caller() -> str:
    """Return "module:line" of the code that declared a rule: the first frame outside this module."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "?"
    return f"{frame.f_globals.get('__name__', '?')}:{frame.f_lineno}"


registry = RuleRegistry()
register = registry.register
unregister = registry.unregister
