"""Notification actions: buttons a notification carries, and the handlers that POST buttons run.

A GET action is a link. A POST action names a handler registered here with
:func:`action`; the button posts to ``notifications/<id>/actions/<name>/``,
which runs the handler for the signed-in user's notification and marks it read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from .conf import live_settings

__all__ = ["IdUrl", "action", "action_payloads", "clean_actions", "get_handler", "register", "unregister"]

Handler = Callable[[Any, Any], Any]

# The characters the URL's <slug:name> takes.
NAME = re.compile(r"[-a-zA-Z0-9_]+")
STYLE = re.compile(r"[a-zA-Z0-9_-]{1,32}")
METHODS = ("GET", "POST")
KEYS = frozenset({"label", "url", "method", "style", "name", "outcome"})
LABEL_MAX_LENGTH = 100
URL_MAX_LENGTH = 500

_handlers: dict[str, Handler] = {}


def action(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the POST action ``name``.

    The handler is called as ``handler(request, notification)`` with the
    signed-in user's notification, inside a transaction. It may return None,
    a JSON-ready dict (sent back as ``"result"``) or an ``HttpResponse``.
    """

    def decorator(handler: Handler) -> Handler:
        register(name, handler)
        return handler

    return decorator


def register(name: str, handler: Handler) -> None:
    """Register ``handler`` for the POST action ``name``; a name can have one handler."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"Action names are letters, digits, '-' and '_', not {name!r}")
    if not callable(handler):
        raise TypeError(f"The handler of action {name!r} must be callable")
    registered = _handlers.get(name)
    if registered is not None and _origin(registered) != _origin(handler):
        raise ValueError(f"Action {name!r} already has a handler: {registered!r}")
    # The same function defined again (a module imported twice, a shell session) replaces itself.
    _handlers[name] = handler


def _origin(handler: Handler) -> tuple[str, str]:
    return getattr(handler, "__module__", ""), getattr(handler, "__qualname__", repr(handler))


def unregister(name: str) -> None:
    """Forget the handler of ``name``; its buttons then answer 404."""
    if _handlers.pop(name, None) is None:
        raise LookupError(f"No action {name!r} is registered")


def get_handler(name: str) -> Handler | None:
    return _handlers.get(name)


def clean_actions(actions: Any) -> list[dict[str, str]]:
    """Validate ``notify(actions=...)`` and return the list to store; raise TypeError or ValueError."""
    if actions is None:
        return []
    if not isinstance(actions, (list, tuple)):
        raise TypeError(f"actions must be a list of dicts, not {type(actions).__name__}")
    limit = live_settings.max_actions
    if len(actions) > limit:
        raise ValueError(
            f"A notification carries at most {limit} actions (LIVE_NOTIFY['MAX_ACTIONS']), not {len(actions)}"
        )
    return [_clean_action(given) for given in actions]


def _clean_action(given: Any) -> dict[str, str]:
    if not isinstance(given, dict):
        raise TypeError(f"Each action must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - KEYS)
    if unknown:
        raise ValueError(
            f"Unknown action key(s) {', '.join(map(repr, unknown))}; actions take {', '.join(sorted(KEYS))}"
        )
    values = {key: str(value) if isinstance(value, Promise) else value for key, value in given.items()}
    label = values.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValueError("Each action needs a non-empty label")
    if len(label) > LABEL_MAX_LENGTH:
        raise ValueError(f"Action labels are at most {LABEL_MAX_LENGTH} characters")
    method = values.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"Action method must be 'GET' or 'POST', not {method!r}")
    cleaned = {"label": label, "method": method.upper()}
    style = values.get("style", "")
    if style:
        if not isinstance(style, str) or not STYLE.fullmatch(style):
            raise ValueError(f"Action style must be letters, digits, '-' and '_' (a CSS class suffix), not {style!r}")
        cleaned["style"] = style
    if cleaned["method"] == "GET":
        if "name" in values or "outcome" in values:
            raise ValueError(f"GET action {label!r} is a link: give it a url, not a name or an outcome")
        cleaned["url"] = _clean_url(values.get("url"), label)
    else:
        if "url" in values:
            raise ValueError(
                f"POST action {label!r} posts to this app's action endpoint: give it the name of a handler, not a url"
            )
        name = values.get("name")
        if not isinstance(name, str) or get_handler(name) is None:
            raise ValueError(
                f"POST action {label!r} needs the name of a registered handler (@action(name)), not {name!r}"
            )
        _id_url(name)  # Fails now, not when a client renders the button, if the URLs are not included.
        cleaned["name"] = name
        outcome = values.get("outcome", "")
        if outcome:
            if not isinstance(outcome, str) or len(outcome) > LABEL_MAX_LENGTH:
                raise ValueError(f"Action outcome is the text shown once used (e.g. 'Accepted'), not {outcome!r}")
            cleaned["outcome"] = outcome
    return cleaned


def _clean_url(url: Any, label: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"GET action {label!r} needs a url")
    if len(url) > URL_MAX_LENGTH:
        raise ValueError(f"Action URLs are at most {URL_MAX_LENGTH} characters")
    if not has_safe_scheme(url):
        raise ValueError(f"Action URLs must be relative or http(s), not {url!r}")
    return url


def has_safe_scheme(url: str) -> bool:
    """Tell whether ``url`` is relative or http(s): a link no client can run as script (javascript:, data:)."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return False
    return scheme in ("", "http", "https")


class IdUrl(NamedTuple):
    """The URL of a POST action, around the notification id that goes between ``prefix`` and ``suffix``."""

    prefix: str
    suffix: str


def _id_url(name: str) -> IdUrl:
    """Return the action endpoint URL of ``name`` split around the id: reversed twice, the ids are what differ."""
    try:
        first = reverse("live_notify:action", kwargs={"pk": 1, "name": name})
        second = reverse("live_notify:action", kwargs={"pk": 2, "name": name})
    except NoReverseMatch:
        raise ValueError(
            'POST actions need the URLs of django_live_notify: path("notifications/", '
            'include("django_live_notify.urls"))'
        ) from None
    start = next(index for index, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    return IdUrl(first[:start], first[start + 1 :])


def _payload(stored: dict[str, str], url: Any) -> dict[str, Any]:
    return {
        "label": stored.get("label", ""),
        "url": url,
        "method": stored.get("method", "GET"),
        "style": stored.get("style", ""),
        "name": stored.get("name", ""),
    }


def shared_action_payloads(actions: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Return the actions as clients receive them, with an :class:`IdUrl` for each POST action's URL."""
    return [
        _payload(stored, _id_url(stored["name"]) if stored.get("method") == "POST" else stored.get("url", ""))
        for stored in actions or ()
    ]


def action_payloads(actions: list[dict[str, str]], notification_id: Any) -> list[dict[str, Any]]:
    """Return the actions of one stored notification as clients receive them."""
    payloads = []
    for stored in actions or ():
        url = stored.get("url", "")
        if stored.get("method") == "POST":
            try:
                url = reverse("live_notify:action", kwargs={"pk": notification_id, "name": stored["name"]})
            except NoReverseMatch:
                url = ""  # The URLs were removed since: clients leave out actions without a URL.
        payloads.append(_payload(stored, url))
    return payloads


def find_action(actions: list[dict[str, str]], name: str) -> dict[str, str] | None:
    """Return the POST action called ``name`` among a notification's actions, or None."""
    for stored in actions or ():
        if stored.get("method") == "POST" and stored.get("name") == name:
            return stored
    return None
