"""The WebSocket consumer: one per socket, kept small; fan-out lives in the hub.

It stays one module of a little over 400 lines: one class, the life of a socket and its answers to each client
frame, which share the socket's state (outbox, budget, pending resume) and its measured fast paths.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import HASH_SESSION_KEY

from . import analytics, budgets, inbox, metrics, protocol, reading, replay
from .batching import Batcher
from .budgets import Admission, UserBudget
from .conf import live_settings
from .hub import Hub, get_hub
from .outbox import Outbox
from .protocol import user_key
from .tokens import SUBPROTOCOL, token_revoked

logger = logging.getLogger("django_live_notify")


class NotificationConsumer(AsyncWebsocketConsumer):
    """Serve protocol v1 to one authenticated socket.

    The socket's life runs on measured fast paths (one hub per process, batched authentication and resumes,
    a bounded outbox), so the ``websocket_*`` methods, ``dispatch`` and ``receive`` of channels' consumer are
    not the place to extend it. Subclasses override three hooks instead, which the class calls:

    * :meth:`connect`, once the socket is accepted, authenticated and in the hub;
    * :meth:`receive_json`, for a frame whose ``type`` protocol v1 does not have;
    * :meth:`disconnect`, once a socket that :meth:`connect` saw has closed.

    Overriding any other method of the socket's life raises ``TypeError`` when the subclass is defined.
    """

    # What channels' consumer would run and this one never does: a subclass that overrides them would be ignored.
    _FINAL = frozenset(
        {"__call__", "dispatch", "websocket_connect", "websocket_receive", "websocket_disconnect", "receive"}
    )

    hub: Hub | None = None
    user_key = ""
    session_key: str | None = None
    auth_hash: str | None = None
    token_issued_at: float | None = None
    outbox: Outbox | None = None
    budget: UserBudget | None = None
    # The last_id of the newest resume not answered yet, and the task that answers it when it had to wait.
    resume_from: int | None = None
    resume_task: asyncio.Task[None] | None = None
    # Whether connect() ran, so that disconnect() runs for the same sockets only.
    _hooked = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overridden = sorted(name for name in cls._FINAL if name in vars(cls))
        if overridden:
            raise TypeError(
                f"{cls.__qualname__} overrides {', '.join(overridden)} of NotificationConsumer, which would never "
                "run as written: override connect(), receive_json() or disconnect() instead (docs/migration.rst)."
            )
        if "send_frame" in vars(cls) and "send_frames" not in vars(cls):
            # The hub writes through send_frames(): a send_frame() of the subclass must still see every frame.
            cls.send_frames = cls._send_each  # type: ignore[method-assign]

    async def connect(self) -> None:
        """Run once the socket is accepted, authenticated and in the hub; ``self.user`` is set. Does nothing."""

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        """Answer a frame whose ``type`` protocol v1 does not have: an ``unknown_type`` error, unless overridden.

        ``self.send_frame(text)`` sends a frame of your own through the socket's outbox.
        """
        await self.send_error("unknown_type", "Unknown message type; see protocol v1.")

    async def disconnect(self, code: int) -> None:
        """Run once a socket that :meth:`connect` saw has closed (``code`` as the server reports it). Does nothing."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # No per-socket channel-layer channel: the hub subscribes once per process.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            # The server is shutting down and cancels its applications (daphne does on SIGTERM,
            # and would drop the socket without a close frame): say so, so the client reconnects at once.
            await self._close(protocol.CLOSE_SERVICE_RESTART)
            raise
        finally:
            await self._leave_hub()
            if self._hooked:  # the server went away without a websocket.disconnect
                self._hooked = False
                await self.disconnect(protocol.CLOSE_SERVICE_RESTART)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Database work goes through database_sync_to_async, which closes old
        # connections itself; channels' dispatch would do it in a thread for every frame.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        user = self.scope.get("user")
        # A client that offers subprotocols (token sockets do) must get one of them back.
        offered = self.scope.get("subprotocols") or ()
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.outbox = Outbox(self)
        if user is None or not user.is_authenticated:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.user_key = user_key(user)
        session = self.scope.get("session")
        if session is not None:
            self.session_key = session.session_key
            self.auth_hash = session.get(HASH_SESSION_KEY)
        self.last_seen = asyncio.get_running_loop().time()
        try:
            hub = await get_hub()
        except Exception:
            logger.exception("Could not start the notification hub (channel layer down?); the client will retry")
            await self.close_with(protocol.CLOSE_TRY_AGAIN_LATER)
            return
        issued_at = self.token_issued_at = getattr(user, "issued_at", None)
        if issued_at is not None:
            # A token socket's credentials: the digest its token carries (see tokens.credentials_digest).
            self.auth_hash = getattr(user, "credentials", None)
        if issued_at is not None and token_revoked(self.user_key, issued_at):
            # The user logged out, was deactivated or changed password after this token was issued.
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        # Set first: if joining the user's group fails, leaving the hub undoes the registration.
        self.budget = budgets.acquire(self.user_key)
        self.hub = hub
        try:
            await hub.add(self)
        except Exception:
            logger.warning("Could not join the group of user %s (channel layer down?)", self.user_key, exc_info=True)
            await self.close_with(protocol.CLOSE_TRY_AGAIN_LATER)
            return
        self._hooked = True
        await self.connect()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        await self._leave_hub()
        if self._hooked:
            self._hooked = False
            await self.disconnect(message.get("code", 1006))
        raise StopConsumer()

    async def _leave_hub(self) -> None:
        hub, self.hub = self.hub, None
        if hub is not None:
            self._release_budget()
            await hub.remove(self)

    def _release_budget(self) -> None:
        if self.resume_task is not None and self.resume_task is not asyncio.current_task():
            self.resume_task.cancel()
        budgets.release(self.user_key)

    def send_frame(self, frame: str) -> None:
        """Queue one text frame; never waits on the socket (see :mod:`django_live_notify.outbox`)."""
        if self.outbox is not None:
            self.outbox.put(frame)

    def send_frames(self, frames: list[str]) -> None:
        """Queue text frames in order, in one write when the server allows it; never waits on the socket."""
        if self.outbox is not None:
            self.outbox.put_many(frames)

    def _send_each(self, frames: list[str]) -> None:
        for frame in frames:
            self.send_frame(frame)

    async def close_with(self, code: int) -> None:
        """Leave the hub and close the socket with ``code`` after the frames queued; never waits on the socket."""
        await self._leave_hub()
        if self.outbox is None:
            await self._close(code)
        else:
            self.outbox.close(code)

    def dropped(self, reason: str, stat: str = "closed_too_slow") -> None:
        """Count and log a socket its outbox aborted (too slow, flooding), and take it out of the hub."""
        what = "that fell behind" if stat == "closed_too_slow" else "because"
        logger.warning("Dropped a socket of user %s %s: %s", self.user_key, what, reason)
        metrics.socket_dropped(stat, reason)
        hub, self.hub = self.hub, None
        if hub is not None:
            hub.stats[stat] += 1
            # At once: frames the client sent before the abort are ignored, not answered. The disconnect
            # that follows the abort would leave the hub too, but an unknown server may send none.
            self._leaving = asyncio.get_running_loop().create_task(hub.remove(self))

    async def _close(self, code: int) -> None:
        try:
            await self.close(code=code)
        except Exception:
            fallback = protocol.DAPHNE_CLOSE_CODES.get(code)
            if fallback is None:
                logger.debug("Socket of user %s was already closed", getattr(self, "user_key", "?"), exc_info=True)
                return
            # daphne lets an application close only with 1000 or 3000-4999.
            await self._close(fallback)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.hub is None:
            return
        self.last_seen = asyncio.get_running_loop().time()
        admission = self.budget.admit() if self.budget is not None else Admission.ANSWER
        if admission is not Admission.ANSWER:
            # One error per window, then silence: an error per frame would make a flood cost as much out as in.
            self.hub.stats["rate_limited"] += 1
            if admission is Admission.WARN:
                await self.send_error("rate_limited", "Too many messages; slow down.")
            elif admission in (Admission.FIRST_CLOSE, Admission.CLOSE):
                self.hub.stats["closed_rate_limited"] += 1
                if admission is Admission.FIRST_CLOSE:
                    # Once per streak: the log must not grow with the flood.
                    logger.warning(
                        "User %s sent over MAX_MESSAGES_PER_SECOND for %s seconds in a row: closing their sockets "
                        "that go on (1008)",
                        self.user_key,
                        budgets.ABUSIVE_WINDOWS,
                    )
                if self.outbox is not None:
                    # Aborted, not closed: a flooding client need not read for its socket to go, and the
                    # frames it still sends are never parsed.
                    violation = protocol.CLOSE_POLICY_VIOLATION
                    self.outbox.abort("it went on flooding", violation, "flood_aborted", grace=0.5)
                    return
                await self.close_with(protocol.CLOSE_POLICY_VIOLATION)
            return
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            if len(data) > live_settings.max_message_size:
                self.hub.stats["closed_too_big"] += 1
                await self.close_with(self.too_big_code())
                return
            await self.send_error("binary_frame", "Only text frames are accepted.")
            return
        if len(text) > live_settings.max_message_size or len(text.encode()) > live_settings.max_message_size:
            self.hub.stats["closed_too_big"] += 1
            await self.close_with(self.too_big_code())
            return
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            # RecursionError: JSON nested thousands deep, which fits well under the size limit.
            frame = None
        if not isinstance(frame, dict):
            await self.send_error("invalid_json", "Frames must be JSON objects.")
            return
        frame_type = frame.get("type")
        handler = self.handlers.get(frame_type) if isinstance(frame_type, str) else None
        metrics.frame_in(frame_type if handler is not None else "unknown")
        if handler is None:
            await self.receive_json(frame)
            return
        await handler(self, frame)

    def too_big_code(self) -> int:
        code = live_settings.too_big_close_code
        return protocol.CLOSE_TOO_BIG if code is None else code

    async def send_error(self, code: str, message: str) -> None:
        self.send_frame(protocol.error_frame(code, message))

    async def handle_heartbeat(self, frame: dict[str, Any]) -> None:
        self.send_frame(protocol.HEARTBEAT_ACK)

    async def handle_get_unread_count(self, frame: dict[str, Any]) -> None:
        count = await database_sync_to_async(reading.unread_count)(self.user)
        self.send_frame(protocol.unread_count_frame(count))

    async def handle_mark_read(self, frame: dict[str, Any]) -> None:
        notification_id = frame.get("id")
        if not _is_id(notification_id):
            await self.send_error("invalid_field", "'id' must be a positive integer.")
            return
        found = await database_sync_to_async(reading.mark_read)(self.user, notification_id)
        if not found:
            await self.send_error("not_found", "No such notification.")

    async def handle_mark_unread(self, frame: dict[str, Any]) -> None:
        await self._inbox_change(frame, reading.mark_unread)

    async def handle_mark_all_read(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(reading.mark_all_read)(self.user)

    async def handle_resume(self, frame: dict[str, Any]) -> None:
        last_id: Any = frame.get("last_id")
        if not _is_id(last_id, allow_zero=True):
            await self.send_error("invalid_field", "'last_id' must be a non-negative integer.")
            return
        # Resumes of a socket that are not answered yet merge into one, answered from the newest last_id.
        self.resume_from = last_id
        if self.resume_task is not None:
            return
        budget = self.budget
        if budget is not None and (budget.resume_lock.locked() or budget.resume_wait() > 0):
            # Throttled: answered as soon as the user's budget allows, while this socket's other frames go on.
            self.resume_task = asyncio.create_task(self._answer_resumes_later())
            return
        await self._answer_resumes()

    async def _answer_resumes_later(self) -> None:
        try:
            await self._answer_resumes()
        except Exception:
            logger.exception(
                "A resume of user %s failed; closing its socket so that the client resumes again", self.user_key
            )
            await self.close_with(protocol.CLOSE_TRY_AGAIN_LATER)

    async def _answer_resumes(self) -> None:
        """Answer this socket's pending resume, one resume of the user at a time, within the user's row budget."""
        try:
            while self.resume_from is not None and self.hub is not None and self.budget is not None:
                budget = self.budget
                async with budget.resume_lock:
                    wait = budget.resume_wait()
                    if wait:
                        # Then the bucket holds a row: no other resume of the user can take it, they wait on the lock.
                        await asyncio.sleep(wait)
                    last_id, self.resume_from = self.resume_from, None
                    frames, replayed = await _resume_batched((self.user.pk, last_id))
                    budget.charge_resume(len(replayed))
                self.send_frames(frames)
                if self.hub is not None:
                    for notification_id in replayed:
                        self.hub.note_delivered(self.user_key, notification_id)
        finally:
            if self.resume_task is asyncio.current_task():
                self.resume_task = None

    async def handle_mark_seen(self, frame: dict[str, Any]) -> None:
        try:
            ids = inbox.clean_ids(frame.get("ids"))
        except inbox.InboxError as error:
            await self.send_error("invalid_field", str(error))
            return
        await database_sync_to_async(inbox.mark_seen)(self.user, ids)

    async def handle_ack(self, frame: dict[str, Any]) -> None:
        await self._report(frame, "delivered")

    async def handle_clicked(self, frame: dict[str, Any]) -> None:
        await self._report(frame, "clicked")

    async def _report(self, frame: dict[str, Any], kind: str) -> None:
        """Record an ack or a click of the user's own rows, batched with other sockets'; never answer one."""
        if not analytics.enabled():
            return
        try:
            ids = inbox.clean_ids(frame.get("ids"))
        except inbox.InboxError as error:
            await self.send_error("invalid_field", str(error))
            return
        try:
            await analytics.record_batched((kind, self.user.pk, ids))
        except Exception as error:
            # Analytics must never cost a socket: the report is lost, the socket goes on.
            logger.warning("Could not record a %s report of user %s: %r", kind, self.user_key, error)

    async def handle_archive(self, frame: dict[str, Any]) -> None:
        await self._inbox_change(frame, inbox.archive, True)

    async def handle_unarchive(self, frame: dict[str, Any]) -> None:
        await self._inbox_change(frame, inbox.archive, False)

    async def handle_snooze(self, frame: dict[str, Any]) -> None:
        try:
            until = inbox.clean_until(frame.get("until"))
        except inbox.InboxError as error:
            await self.send_error("invalid_field", str(error))
            return
        await self._inbox_change(frame, inbox.snooze, until)

    async def _inbox_change(self, frame: dict[str, Any], change: Any, *arguments: Any) -> None:
        notification_id = frame.get("id")
        if not _is_id(notification_id):
            await self.send_error("invalid_field", "'id' must be a positive integer.")
            return
        if not await database_sync_to_async(change)(self.user, notification_id, *arguments):
            await self.send_error("not_found", "No such notification.")

    handlers = {
        "heartbeat": handle_heartbeat,
        "get_unread_count": handle_get_unread_count,
        "mark_read": handle_mark_read,
        "mark_unread": handle_mark_unread,
        "mark_all_read": handle_mark_all_read,
        "resume": handle_resume,
        "mark_seen": handle_mark_seen,
        "archive": handle_archive,
        "unarchive": handle_unarchive,
        "snooze": handle_snooze,
        "ack": handle_ack,
        "clicked": handle_clicked,
    }


def _is_id(value: Any, allow_zero: bool = False) -> bool:
    return type(value) is int and (0 < value < 2**63 or (allow_zero and value == 0))


# A mass reconnect sends thousands of resumes at once: answered 500 per database call.
_resume_batched: Batcher[tuple[Any, int], tuple[list[str], list[int]]] = Batcher(
    replay.resume_frames_many, max_batch=500
)
