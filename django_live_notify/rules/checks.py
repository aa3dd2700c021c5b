"""A rule's options checked once, when it is created: mistakes show at startup, not on the first save."""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

from ..actions import has_safe_scheme
from .changes import ChangeDetector, detector_for
from .events import ANY, EVENTS, Changed

if TYPE_CHECKING:
    from .rule import Rule

# Names a title, message or url format string may use.
FORMAT_NAMES = frozenset({"instance", "event", "old", "new", "sender"})
# And a group_title: how many notifications the group holds, and how many besides the newest.
GROUP_FORMAT_NAMES = FORMAT_NAMES | {"count", "others"}


def check(rule: Rule) -> ChangeDetector | None:
    """Raise ImproperlyConfigured for the first mistake in ``rule``'s options; return its change detector."""
    label = rule._label()
    detector = None
    model = rule.model
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise ImproperlyConfigured(f"{label}: model must be a model class, not {model!r}.")
    if model._meta.abstract:
        raise ImproperlyConfigured(f"{label}: {model.__name__} is abstract; register its concrete models.")
    if model._meta.label == "django_live_notify.Notification":
        raise ImproperlyConfigured(f"{label}: rules cannot watch Notification; use the notification_created signal.")
    if isinstance(rule.on, Changed):
        detector = _check_changed(label, model, rule.on)
    elif rule.on not in EVENTS:
        raise ImproperlyConfigured(
            f"{label}: on must be 'created', 'updated', 'deleted' or changed('field'), not {rule.on!r}."
        )
    if rule.recipients is None:
        raise ImproperlyConfigured(f"{label}: recipients is required.")
    for option in ("recipients", "sender", "target"):
        value = getattr(rule, option)
        if isinstance(value, str):
            _check_path(label, model, option, value)
        elif value is not None and not callable(value):
            raise ImproperlyConfigured(f"{label}: {option} must be a field path, a callable or None, not {value!r}.")
    if rule.title is None or (isinstance(rule.title, str) and not rule.title.strip()):
        raise ImproperlyConfigured(f"{label}: title is required.")
    for option in ("title", "message", "url", "group_key", "group_title"):
        value = getattr(rule, option)
        if isinstance(value, (str, Promise)):
            _check_format(label, option, value, GROUP_FORMAT_NAMES if option == "group_title" else FORMAT_NAMES)
        elif value is not None and not callable(value):
            raise ImproperlyConfigured(f"{label}: {option} must be a string or a callable, not {value!r}.")
    _check_url(label, rule)
    _check_actions(label, rule)
    if rule.data is not None and not isinstance(rule.data, dict) and not callable(rule.data):
        raise ImproperlyConfigured(f"{label}: data must be a dict or a callable, not {rule.data!r}.")
    if rule.when is not None and not callable(rule.when):
        raise ImproperlyConfigured(f"{label}: when must be a callable, not {rule.when!r}.")
    _check_notification_type(label, rule)
    return detector


def _check_changed(label: str, model: type[models.Model], on: Changed) -> ChangeDetector:
    try:
        field = model._meta.get_field(on.field)
    except FieldDoesNotExist:
        raise ImproperlyConfigured(f"{label}: {model.__name__} has no field {on.field!r}.") from None
    if not field.concrete or field.many_to_many:
        raise ImproperlyConfigured(
            f"{label}: changed({on.field!r}) needs a field stored in the model's table; "
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
                    f"{label}: {name}={unknown[0]!r} is not a choice of {model.__name__}.{on.field}."
                )
    return detector_for(model, field)


def _check_path(label: str, model: type[models.Model], option: str, path: str) -> None:
    current: Any = model
    for name in path.split("."):
        if not name.isidentifier():
            raise ImproperlyConfigured(f"{label}: {option}={path!r} is not a dotted field path.")
        if current is None:
            continue  # Past a property or a reverse accessor: checked when the rule fires.
        if not hasattr(current, name):
            raise ImproperlyConfigured(f"{label}: {option}={path!r}: {current.__name__} has no attribute {name!r}.")
        try:
            related = current._meta.get_field(name).related_model
        except (FieldDoesNotExist, AttributeError):
            related = None
        current = related if isinstance(related, type) else None


def _check_url(label: str, rule: Rule) -> None:
    if isinstance(rule.url, (str, Promise)):
        # The text before the first field fixes the scheme: "javascript:{instance.pk}" is never safe.
        fixed = str(rule.url).split("{", 1)[0]
        if not has_safe_scheme(fixed):
            raise ImproperlyConfigured(f"{label}: url must be relative or http(s), not {str(rule.url)!r}.")


def _check_actions(label: str, rule: Rule) -> None:
    actions = rule.actions
    if actions is None or callable(actions):
        return
    if not isinstance(actions, (list, tuple)) or not all(isinstance(action, dict) for action in actions):
        raise ImproperlyConfigured(f"{label}: actions must be a list of dicts or a callable, not {actions!r}.")
    for action in actions:
        for key in ("label", "url"):
            if isinstance(action.get(key), (str, Promise)):
                _check_format(label, f"action {key}", action[key])


def _check_format(label: str, option: str, text: str | Promise, names: frozenset[str] = FORMAT_NAMES) -> None:
    if isinstance(text, Promise):
        # The source string, not a translation: catalogs are checked when the rule fires.
        with translation.override(None):
            text = str(text)
    try:
        fields = [parsed[1] for parsed in string.Formatter().parse(text) if parsed[1] is not None]
    except ValueError as error:
        raise ImproperlyConfigured(f"{label}: {option} {text!r} is not a format string: {error}.") from None
    for field in fields:
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if head not in names:
            raise ImproperlyConfigured(
                f"{label}: {option} {text!r} uses {{{field}}}; format strings may use "
                + ", ".join(f"{{{name}}}" for name in sorted(names))
                + " (write literal braces as {{ and }})."
            )


def _check_notification_type(label: str, rule: Rule) -> None:
    from ..conf import live_settings

    allowed = live_settings.allowed_types
    value = rule.notification_type
    if value is None or callable(value):
        return
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"{label}: notification_type must be a string or a callable.")
    if allowed is not None and value not in allowed:
        raise ImproperlyConfigured(
            f"{label}: notification_type {value!r} is not in LIVE_NOTIFY['NOTIFICATION_TYPES']."
        )
