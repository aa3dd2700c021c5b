"""Helpers for testing a project that sends notifications.

``capture_notifications()`` records what ``notify()``, ``broadcast()`` and
rules store while it is active, so a test can assert on it without opening a
socket::

    from django_live_notify.testing import assert_notified, capture_notifications

    with capture_notifications() as captured:
        place_order(ana)
        assert_notified(ana, title="Order placed")
    captured.assert_not_notified(bob)

``communicator()`` and ``receive_frame()`` drive the real WebSocket stack when
a test wants to see the frames a browser would get. See ``docs/testing.rst``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from .signals import notification_created, notification_updated

if TYPE_CHECKING:
    from channels.testing import WebsocketCommunicator

    from .api_types import User, UserId
    from .models import Notification

__all__ = [
    "CapturedNotifications",
    "assert_no_frame",
    "assert_not_notified",
    "assert_notified",
    "capture_notifications",
    "communicator",
    "receive_frame",
]

_active: list[CapturedNotifications] = []


class CapturedNotifications:
    """What was stored while a ``capture_notifications()`` block ran.

    ``notifications`` holds the new rows in the order they were stored (rows
    stored by ``broadcast()`` are read from the database the first time you
    look); ``updated`` holds the unread rows that ``group_key`` folded a
    notification into.
    """

    def __init__(self) -> None:
        self._rows: list[Notification] = []
        self._pending_ids: list[int] = []
        self.updated: list[Notification] = []

    # Receivers of the signals. A notify() after a broadcast() reads the broadcast rows first, to keep the order.
    def _created(
        self, sender: type[Notification], notifications: list[Notification] | None = None, **kwargs: Any
    ) -> None:
        if notifications is not None:
            self._resolve()
            self._rows.extend(notifications)
        else:
            self._pending_ids.extend(kwargs.get("notification_ids") or [])

    def _updated(
        self, sender: type[Notification], notifications: list[Notification] | None = None, **kwargs: Any
    ) -> None:
        self.updated.extend(notifications or [])

    def _resolve(self) -> None:
        """Read the rows of broadcasts, which the signal names by id only."""
        if not self._pending_ids:
            return
        from .models import Notification

        ids, self._pending_ids = self._pending_ids, []
        by_id = Notification.objects.select_related("recipient").in_bulk(ids)
        self._rows.extend(by_id[pk] for pk in ids if pk in by_id)

    @property
    def notifications(self) -> list[Notification]:
        """Every new notification row, in the order stored."""
        self._resolve()
        return list(self._rows)

    def __iter__(self) -> Iterator[Notification]:
        return iter(self.notifications)

    def __len__(self) -> int:
        return len(self.notifications)

    def __bool__(self) -> bool:
        return bool(self._rows or self._pending_ids)

    def __repr__(self) -> str:
        return f"<CapturedNotifications: {len(self)} stored, {len(self.updated)} updated>"

    def for_user(
        self, user: User | UserId, *, title: str | None = None, notification_type: str | None = None
    ) -> list[Notification]:
        """Return the new notifications for ``user`` (a user or a primary key) that match the filters."""
        user_id = _user_id(user)
        return [
            row
            for row in self.notifications
            if _same_id(row.recipient_id, user_id)
            and (title is None or row.title == title)
            and (notification_type is None or row.notification_type == notification_type)
        ]

    def assert_notified(
        self,
        user: User | UserId,
        title: str | None = None,
        notification_type: str | None = None,
        count: int | None = None,
    ) -> list[Notification]:
        """Fail unless ``user`` got a matching notification (exactly ``count`` of them, if given); return them."""
        matches = self.for_user(user, title=title, notification_type=notification_type)
        wanted = _describe_filters(title, notification_type)
        if count is None and not matches:
            raise AssertionError(
                f"Expected a notification{wanted} for {_describe_user(user)}, but none was stored.\n" + self._summary()
            )
        if count is not None and len(matches) != count:
            raise AssertionError(
                f"Expected {count} notification(s){wanted} for {_describe_user(user)}, "
                f"but {len(matches)} were stored.\n" + self._summary()
            )
        return matches

    def assert_not_notified(
        self, user: User | UserId, title: str | None = None, notification_type: str | None = None
    ) -> None:
        """Fail if ``user`` got a notification matching the filters (any notification, without filters)."""
        matches = self.for_user(user, title=title, notification_type=notification_type)
        if matches:
            raise AssertionError(
                f"Expected no notification{_describe_filters(title, notification_type)} for "
                f"{_describe_user(user)}, but {len(matches)} were stored.\n" + self._summary()
            )

    def _summary(self) -> str:
        rows = self.notifications
        if not rows:
            return "No notifications were stored in the capture_notifications() block."
        lines = [f"{len(rows)} notification(s) were stored in the capture_notifications() block:"]
        lines += [
            f"  - to user pk={row.recipient_id!r}: title={row.title!r}, notification_type={row.notification_type!r}"
            for row in rows
        ]
        return "\n".join(lines)


@contextmanager
def capture_notifications() -> Iterator[CapturedNotifications]:
    """Record every notification stored while the block runs; yield the record.

    Works in any test, with or without a database transaction of its own, and
    sends nothing anywhere: it only listens to ``notification_created`` and
    ``notification_updated``. Blocks may nest; each records what happened
    inside it.
    """
    captured = CapturedNotifications()
    uid = f"django_live_notify.testing.{id(captured)}"
    notification_created.connect(captured._created, weak=False, dispatch_uid=uid)
    notification_updated.connect(captured._updated, weak=False, dispatch_uid=uid)
    _active.append(captured)
    try:
        yield captured
    finally:
        _active.remove(captured)
        notification_created.disconnect(dispatch_uid=uid)
        notification_updated.disconnect(dispatch_uid=uid)


def assert_notified(
    user: User | UserId,
    title: str | None = None,
    notification_type: str | None = None,
    count: int | None = None,
) -> list[Notification]:
    """Do ``CapturedNotifications.assert_notified()`` on the innermost active ``capture_notifications()``."""
    return _current().assert_notified(user, title=title, notification_type=notification_type, count=count)


def assert_not_notified(user: User | UserId, title: str | None = None, notification_type: str | None = None) -> None:
    """Do ``CapturedNotifications.assert_not_notified()`` on the innermost active ``capture_notifications()``."""
    _current().assert_not_notified(user, title=title, notification_type=notification_type)


def _current() -> CapturedNotifications:
    if not _active:
        raise AssertionError(
            "No capture_notifications() block is active: call assert_notified() inside "
            "`with capture_notifications():`, or call it on the record the block gives "
            "(`with capture_notifications() as captured: ...` then `captured.assert_notified(...)`)."
        )
    return _active[-1]


async def communicator(
    user: User | None = None,
    path: str | None = None,
    *,
    origin: str = "http://testserver",
    headers: list[tuple[bytes, bytes]] | None = None,
    application: Callable[..., Awaitable[object]] | None = None,
    expect_open: bool = True,
) -> WebsocketCommunicator:
    """Return a connected ``channels.testing.WebsocketCommunicator`` for ``user`` (anonymous when None).

    It talks to ``websocket_application()`` (or ``application``, such as your
    project's ASGI application) with the user's session cookie, an ``Origin``
    header and ``Host: testserver`` (unless ``headers`` holds a Host), on
    ``path`` (by default ``/`` + ``WEBSOCKET_PATH``).
    Fails unless the handshake succeeds, or with ``expect_open=False``, unless
    it is refused (a foreign origin). An anonymous socket is accepted, then
    closed with code 4001: ``receive_frame()`` reports that. Disconnect the
    socket at the end of the test: ``await ws.disconnect()``.
    """
    from channels.testing import WebsocketCommunicator

    from .conf import live_settings
    from .protocol import user_key
    from .publish import _hubs
    from .routing import websocket_application

    if path is None:
        path = "/" + live_settings.websocket_path
    all_headers = list(headers or [])
    if not any(name == b"host" for name, _value in all_headers):
        # The site the page is on, as Django's test Client sends it.
        all_headers.append((b"host", b"testserver"))
    if origin:
        all_headers.append((b"origin", origin.encode()))
    if user is not None:
        cookie_name, key = await sync_to_async(_session_cookie)(user)
        all_headers.append((b"cookie", f"{cookie_name}={key}".encode()))
    ws = WebsocketCommunicator(application or websocket_application(), path, headers=all_headers)
    hub = _hubs.get(asyncio.get_running_loop())
    opened_before = hub.stats["connections_opened"] if hub is not None else 0
    connected, close_code = await ws.connect()
    if expect_open and not connected:
        raise AssertionError(
            f"The socket at {path!r} for {_describe_user(user)} was refused (close code {close_code!r}). "
            "Is the user active, and the origin the site's own (http://testserver) or in CSRF_TRUSTED_ORIGINS?"
        )
    if not expect_open and connected:
        await ws.disconnect()
        raise AssertionError(
            f"Expected the socket at {path!r} for {_describe_user(user)} to be refused, but it opened."
        )
    if connected and user is not None:
        await _until_in_hub(ws, user_key(user), opened_before)
    return ws


async def _until_in_hub(ws: WebsocketCommunicator, key: str, opened_before: int, limit: float = 5.0) -> None:
    """Wait until the socket's hub registered it and joined its user's group, so that a notification sent next
    reaches it: the handshake is answered before that, and over Redis the join is a round trip of its own.

    Returns early when the socket sends something first (it was closed, say); never fails.
    """
    from .publish import _hubs

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline and ws.output_queue.empty() and not ws.future.done():
        hub = _hubs.get(loop)
        if (
            hub is not None
            and hub.stats["connections_opened"] > opened_before
            and key in hub.connections
            and key not in hub.joining
        ):
            return
        await asyncio.sleep(0.005)


async def receive_frame(communicator: WebsocketCommunicator, timeout: float = 3) -> Any:  # noqa: ASYNC109 (like receive_from())
    """Return the next frame the socket sends, parsed from JSON.

    Fails if none comes within ``timeout`` seconds or the socket closes
    instead; unlike ``receive_from()``, a timeout leaves the socket usable.
    The wait ends when a frame comes, so the generous default only slows a
    failing test; it keeps a loaded CI machine from failing a passing one.
    """
    if await communicator.receive_nothing(timeout):
        raise AssertionError(f"No frame arrived within {timeout} second(s).")
    message = await communicator.receive_output(timeout)
    if message["type"] == "websocket.close":
        raise AssertionError(f"The socket closed with code {message.get('code')!r} instead of sending a frame.")
    text = message.get("text")
    if text is None:
        raise AssertionError(f"Expected a JSON text frame, got {message!r}")
    return json.loads(text)


async def assert_no_frame(communicator: WebsocketCommunicator, timeout: float = 0.1) -> None:  # noqa: ASYNC109
    """Fail if the socket sends a frame within ``timeout`` seconds."""
    if not await communicator.receive_nothing(timeout):
        message = await communicator.receive_output(timeout)
        raise AssertionError(f"Expected no frame, but got {message.get('text', message)!s}")


def _session_cookie(user: User) -> tuple[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)  # type: ignore[arg-type]  # django-stubs wants AUTH_USER_MODEL of its own settings
    name = settings.SESSION_COOKIE_NAME
    return name, client.cookies[name].value


def _user_id(user: User | UserId) -> Any:
    return getattr(user, "pk", user)


def _same_id(a: object, b: object) -> bool:
    return a == b or str(a) == str(b)


def _describe_user(user: User | UserId | None) -> str:
    if user is None:
        return "an anonymous user"
    if hasattr(user, "pk"):
        return f"{user!s} (pk={user.pk!r})"
    return f"user pk={user!r}"


def _describe_filters(title: str | None, notification_type: str | None) -> str:
    parts = []
    if title is not None:
        parts.append(f"title={title!r}")
    if notification_type is not None:
        parts.append(f"notification_type={notification_type!r}")
    return f" with {', '.join(parts)}" if parts else ""
