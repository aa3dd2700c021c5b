"""The public API is typed: no ``Any`` for users, recipients, senders or settings (issue 16).

mypy checks that the annotations are right (``tox -e mypy``, strict options for these modules in
pyproject.toml); these tests check what mypy cannot: that the types of users are not ``Any``, which mypy
accepts everywhere.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
import typing
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import django_live_notify
from django_live_notify.conf import LiveNotifySettings

PUBLIC_MODULES = [
    "django_live_notify.sending",
    "django_live_notify.storing",
    "django_live_notify.grouping",
    "django_live_notify.compat",
    "django_live_notify.reading",
    "django_live_notify.preferences",
    "django_live_notify.testing",
    "django_live_notify.rules",
    "django_live_notify.rules.rule",
    "django_live_notify.rules.registry",
    "django_live_notify.rules.events",
    "django_live_notify.templatetags.live_notify",
    "django_live_notify.routing",
    "django_live_notify.backends",
    "django_live_notify.stats",
    "django_live_notify.inbox",
    "django_live_notify.querysets",
    "django_live_notify.publish",
    "django_live_notify.tokens",
    "django_live_notify.emailing",
    "django_live_notify.webpush",
    "django_live_notify.delivery",
]

# Parameters (and class attributes) that hold users, or their ids where the API documents ids.
USER_NAMES = {"user", "users", "user_id", "user_ids", "recipient", "recipients", "sender"}

# Settings accessors that return the raw configuration on purpose, with the reason.
RAW_SETTINGS = {
    "user_settings": "the LIVE_NOTIFY dict as the project wrote it; the typed properties convert its values",
}

# A sample of what the walk must reach, so that it cannot pass by checking nothing.
MUST_CHECK = {
    "django_live_notify.notify(recipient)",
    "django_live_notify.notify(sender)",
    "django_live_notify.anotify(recipient)",
    "django_live_notify.broadcast(users)",
    "django_live_notify.abroadcast(users)",
    "django_live_notify.create_and_send_notification(user)",
    "django_live_notify.send_notification_to_user(user_id)",
    "django_live_notify.broadcast_system_notification(user_ids)",
    "django_live_notify.reading.mark_read(user)",
    "django_live_notify.preferences.set_preferences(user)",
    "django_live_notify.testing.assert_notified(user)",
    "django_live_notify.testing.CapturedNotifications.for_user(user)",
    "django_live_notify.testing.communicator(user)",
    "django_live_notify.backends.DeliveryBackend.send(user)",
    "django_live_notify.rules.rule.Rule.recipients",
    "django_live_notify.rules.rule.Rule.sender",
    "django_live_notify.templatetags.live_notify.live_notify_display_name(user)",
}


def contains_any(hint: object) -> bool:
    """Return whether ``hint`` is ``Any`` or has it anywhere inside (``list[Any]``, ``Callable[..., Any]``)."""
    if hint is Any:
        return True
    if isinstance(hint, list):  # The parameters of a Callable.
        return any(contains_any(arg) for arg in hint)
    return any(contains_any(arg) for arg in typing.get_args(hint))


def type_checking_names(module: ModuleType) -> dict[str, Any]:
    """Return the names a module imports under ``if TYPE_CHECKING:``, which its annotations may use."""
    namespace: dict[str, Any] = {"__name__": module.__name__, "__package__": module.__package__}
    tree = ast.parse(textwrap.dedent(inspect.getsource(module)))
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__file__ or "?", "exec"), namespace)
    return namespace


def annotation(owner: object, name: str, namespace: dict[str, Any]) -> object:
    """Return the evaluated annotation of parameter (or class attribute) ``name``; a missing one counts as ``Any``.

    Only the annotations checked are evaluated: others may name what Python 3.11 cannot subscript (``array[float]``).
    """
    raw = inspect.get_annotations(owner).get(name, Any)
    return eval(raw, namespace) if isinstance(raw, str) else raw


def unwrap(value: object) -> object:
    """Return the function behind a bound method or a ``sync_to_async`` wrapper (anotify, abroadcast)."""
    value = getattr(value, "__func__", value)
    inner = getattr(value, "func", None)  # asgiref's SyncToAsync
    return inner if inspect.isfunction(inner) else inspect.unwrap(value)


def public_objects() -> Iterator[tuple[str, object, dict[str, Any]]]:
    """Yield (qualified name, object, annotation namespace) for each public function and class."""
    modules = [(django_live_notify, list(django_live_notify.__all__))]
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                attribute
                for attribute, value in vars(module).items()
                if not attribute.startswith("_") and getattr(value, "__module__", None) == module.__name__
            ]
        modules.append((module, list(exported)))
    for module, names in modules:
        for name in names:
            value = unwrap(getattr(module, name))
            home = importlib.import_module(getattr(value, "__module__", None) or module.__name__)
            namespace = {**vars(home), **type_checking_names(home)}
            if inspect.isfunction(value) or inspect.isclass(value):
                yield f"{module.__name__}.{name}", value, namespace


def user_annotations() -> Iterator[tuple[str, object]]:
    """Yield (where, annotation) for every parameter and class attribute of the public API named in USER_NAMES."""
    for qualified, value, namespace in public_objects():
        functions: list[tuple[str, Callable[..., Any]]] = []
        if inspect.isclass(value):
            for klass in value.__mro__[:-1]:
                for attribute in inspect.get_annotations(klass):
                    if attribute in USER_NAMES:
                        yield f"{qualified}.{attribute}", annotation(klass, attribute, namespace)
            for attribute, member in vars(value).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                member = member.fget if isinstance(member, property) else member
                if inspect.isfunction(member):
                    functions.append((f"{qualified}.{attribute}", member))
        else:
            functions.append((qualified, value))
        for where, function in functions:
            for overload in [*typing.get_overloads(function), function]:
                for parameter in inspect.signature(overload).parameters:
                    if parameter in USER_NAMES:
                        yield f"{where}({parameter})", annotation(overload, parameter, namespace)


def test_users_recipients_and_senders_are_never_typed_any():
    checked = dict(user_annotations())
    missing = MUST_CHECK - checked.keys()
    assert not missing, f"The walk of the public API no longer reaches {sorted(missing)}"
    untyped = sorted(where for where, hint in checked.items() if contains_any(hint))
    assert not untyped, "Typed Any, or not annotated (use django_live_notify.api_types): " + ", ".join(untyped)


def test_settings_accessors_return_their_type_not_any():
    checked = []
    namespace = vars(importlib.import_module(LiveNotifySettings.__module__))
    for name, member in vars(LiveNotifySettings).items():
        function = member.fget if isinstance(member, property) else member
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        checked.append(name)
        if name in RAW_SETTINGS:
            continue
        returned = typing.get_type_hints(function, globalns=namespace).get("return", Any)
        assert not contains_any(returned), f"live_settings.{name} returns {returned}"
    assert {"batch_size", "allowed_types", "websocket_path", "type_label"} <= set(checked)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (Any, True),
        (list[Any], True),
        (int | None, False),
        (Callable[..., int], False),
        (Callable[[Any], int], True),
        (dict[str, list[int | Any]], True),
    ],
)
def test_contains_any_looks_inside_unions_generics_and_callables(hint, expected):
    assert contains_any(hint) is expected
