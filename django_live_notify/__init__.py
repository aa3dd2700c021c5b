"""Real-time in-app notifications for Django over WebSockets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "abroadcast",
    "anotify",
    "broadcast",
    "broadcast_system_notification",
    "create_and_send_notification",
    "notify",
    "send_notification_to_user",
]

if TYPE_CHECKING:
    from .compat import broadcast_system_notification, create_and_send_notification, send_notification_to_user
    from .sending import abroadcast, anotify, broadcast, notify


def __getattr__(name: str) -> Any:
    # Imported lazily: the API imports models, which need the app registry ready.
    if name in __all__:
        from . import compat, sending

        return getattr(sending if hasattr(sending, name) else compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
