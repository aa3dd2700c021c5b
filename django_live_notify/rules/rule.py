"""The rule: what to notify, to whom, with which text, when an event happens to a model's instance."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils.functional import Promise
from django.utils.text import Truncator

from . import checks
from .events import CHANGED, CREATED, DELETED, UPDATED, Changed, Event

if TYPE_CHECKING:
    from ..api_types import JSONDict, Recipients, User
    from ..models import Notification

#: A text option: a format string (plain or lazy), or a callable of ``(instance, event)`` returning the text.
Text: TypeAlias = str | Promise | Callable[..., str | Promise]
#: The actions option: a list of action dicts, or a callable of ``(instance, event)`` returning one.
Actions: TypeAlias = (
    Sequence[Mapping[str, str | Promise]] | Callable[..., Sequence[Mapping[str, str | Promise]] | None]
)


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
    recipients: str | Callable[..., Recipients | models.Manager[User] | None] | None = None
    #: Leave the sender out of the recipients.
    exclude_sender: bool = False
    #: Format strings over ``instance``, ``event``, ``old``, ``new`` and ``sender``
    #: (plain or lazy strings), or callables returning the final text.
    title: Text | None = None
    message: Text = ""
    #: One of LIVE_NOTIFY["NOTIFICATION_TYPES"] (or a callable); None means the default type.
    notification_type: str | Callable[..., str | None] | None = None
    #: Who the notification is from: a field path, a callable, or None.
    sender: str | Callable[..., User | None] | None = None
    #: Where the notification leads: a format string, a callable, or None for the target's get_absolute_url().
    url: Text | None = None
    #: Extra JSON data: a dict, or a callable returning one.
    data: JSONDict | Callable[..., JSONDict | None] | None = None
    #: Fold notifications into the recipient's unread one with this key: a format string, a callable, or None.
    group_key: Text | None = None
    #: The title of a grouped notification once it holds two or more: a format string that may also use
    #: ``{count}`` and ``{others}``, or a callable returning one (or returning a callable of the count).
    group_title: str | Promise | Callable[..., str | Promise | Callable[[int], str] | None] | None = None
    #: Buttons: a list of action dicts (``label`` and ``url`` may be format strings), or a callable returning one.
    actions: Actions | None = None
    #: A condition: a callable; the rule fires only when it returns a true value.
    when: Callable[..., object] | None = None
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
        self._detector = checks.check(self)
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
        change = self._detector.old_and_new(instance, previous) if self._detector is not None else None
        if change is None:
            return None
        old, new = change
        if not on.matches(old, new):
            return None
        return Event(CHANGED, instance, field=on.field, old=old, new=new, update_fields=update_fields)

    def _query_attname(self) -> str | None:
        """Return the column a pre_save query must read for this rule, if any."""
        return self._detector.query_attname if self._detector is not None else None

    def _fire(self, event: Event) -> Notification | list[Notification] | None:
        """Store and send this rule's notification for ``event``, unless its condition says no."""
        from ..sending import notify

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

    def _recipients(
        self, instance: models.Model, event: Event, sender: User | None
    ) -> models.QuerySet[User] | list[User] | None:
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


def _title_max_length() -> int:
    from ..models import Notification

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
    while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__ or __name__):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "?"
    return f"{frame.f_globals.get('__name__', '?')}:{frame.f_lineno}"
