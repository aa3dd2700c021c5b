"""The sending side of live delivery: typed messages to every process's hub.

A sender builds one message per notification (or broadcast, read-state push,
or session close) and publishes it: straight to the hubs of this process on
the in-memory layer, through the channel layer otherwise. Every message is a
plain dict of strings, numbers and lists, so the channel layer's msgpack can
carry it; its ``kind`` tells the receiving hub how to deliver it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from . import metrics, protocol
from .conf import live_settings

if TYPE_CHECKING:
    from .api_types import RequestUser
    from .hub import Hub

logger = logging.getLogger("django_live_notify")

# A message for more recipients than this goes to the "everyone" group once,
# instead of once to each recipient's group.
FANOUT_GROUP_THRESHOLD = 20
MESSAGE_TYPE = "live_notify.message"
# The kinds of message, each with its own builder below and its own handler in Hub.deliver().
FRAMES = "frames"
NOTIFICATION = "notification"
BROADCAST = "broadcast"
CLOSE = "close"


def layer() -> Any:
    """Return the channel layer that links processes, or None when there is only this one."""
    channel_layer = get_channel_layer(live_settings.channel_layer)
    if channel_layer is None or isinstance(channel_layer, InMemoryChannelLayer):
        return None
    return channel_layer


def frames_message(targets: Iterable[tuple[str, list[str]]]) -> dict[str, Any]:
    """Build a message that writes given frames to given users: ``[(user_key, [frame, ...]), ...]``."""
    return {"type": MESSAGE_TYPE, "kind": FRAMES, "targets": [[key, frames] for key, frames in targets]}


def close_message(
    key: str, session_key: str | None, auth_hash: str | None, code: int, revoked_at: float = 0.0
) -> dict[str, Any]:
    """Build a message that closes a user's sockets: of one session, or all, or those with a stale auth hash.

    With ``revoked_at`` (a time.time()), it also revokes the user's socket tokens issued until then, in every
    process, and closes the sockets opened with them; 0 revokes nothing.
    """
    return {
        "type": MESSAGE_TYPE,
        "kind": CLOSE,
        "targets": [],
        "close": [[key, session_key, auth_hash, code, revoked_at]],
    }


def notification_message(
    tail: str | list[str], targets: Iterable[tuple[str, int | None, int | None]]
) -> dict[str, Any]:
    """Build a message for one notification stored as many rows: ``[(user_key, id, unread_count), ...]``.

    A target without an id gets only its unread count.
    """
    return {
        "type": MESSAGE_TYPE,
        "kind": NOTIFICATION,
        "head": protocol.NOTIFICATION_HEAD,
        "tail": tail,
        "targets": [list(target) for target in targets],
    }


def broadcast_message(tail: str | list[str], broadcast_id: str, after_id: int) -> dict[str, Any]:
    """Build the message of one broadcast: every process looks its own recipients' rows up.

    It names the broadcast and the highest id stored before it, nothing per
    recipient, so its size does not grow with the number of users.
    """
    return {
        "type": MESSAGE_TYPE,
        "kind": BROADCAST,
        "head": protocol.NOTIFICATION_HEAD,
        "tail": tail,
        "targets": [],
        "broadcast": {"id": broadcast_id, "after": after_id},
    }


def publish(message: dict[str, Any], everyone: bool = False) -> bool:
    """Send a message to every process that may hold its recipients, from sync code; tell whether it went.

    Failures are logged, never raised: the rows are stored, and the recovery
    sweep and ``resume`` send them. An outage logs one ERROR when it starts, a
    WARNING with counts at most every ``OUTAGE_WARNING_SECONDS`` while it lasts,
    and one INFO when a send works again.
    """
    metrics.stamp(message)
    try:
        channel_layer = layer()
        if channel_layer is None:
            _publish_local(message)
        else:
            async_to_sync(_publish_layer)(channel_layer, message, everyone)
    except Exception as error:
        outage.failed(error)
        return False
    outage.worked()
    return True


# While the channel layer is down, at most one WARNING per this many seconds.
OUTAGE_WARNING_SECONDS = 30.0


class _Outage:
    """This process's record of failing live sends, so that an outage logs a few lines, not one per send."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: float | None = None
        self.warned = 0.0
        self.failed_since_warning = 0
        self.failed_total = 0
        # Every failed send since the process started; live_notify_send compares it before and after.
        self.failures = 0

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        metrics.layer_error("publish")
        with self.lock:
            self.failures += 1
            if self.started is None:
                self.started = self.warned = now
                self.failed_since_warning = 0
                self.failed_total = 1
                first = True
            else:
                first = False
                self.failed_total += 1
                self.failed_since_warning += 1
                due = now - self.warned >= OUTAGE_WARNING_SECONDS
                if due:
                    count, seconds = self.failed_since_warning, now - self.warned
                    self.warned, self.failed_since_warning = now, 0
        if first:
            logger.error(
                "Live sends are failing (%s: %s); rows are stored and recovery will send them. "
                "Further failures are counted, not logged one by one",
                type(error).__name__,
                error,
                exc_info=error,
            )
        elif due:
            logger.warning(
                "%d live sends failed in the last %.0f s (%s); rows are stored and recovery will send them",
                count,
                seconds,
                error,
            )

    def worked(self) -> None:
        if self.started is None:
            return
        with self.lock:
            if self.started is None:
                return
            seconds, count = time.monotonic() - self.started, self.failed_total
            self.started = None
        metrics.layer_recovered("publish")
        logger.info("Live sends work again after %.1f s; %d failed meanwhile and are left to recovery", seconds, count)


outage = _Outage()


def push_to_user(user: RequestUser, frames: Iterable[str], counts: Callable[[Any], list[str]] | None = None) -> None:
    """Send ``frames`` to every socket (every tab) of ``user`` once the transaction commits.

    ``counts(user)``, when given, makes more frames at that moment, so the counts sent are those of the
    committed rows.
    """
    frames = list(frames)
    key = protocol.user_key(user)

    def push() -> None:
        sent = frames + counts(user) if counts is not None else frames
        if sent:
            publish(frames_message([(key, sent)]))

    transaction.on_commit(push)


def failure_count() -> int:
    """Return how many live sends failed in this process so far."""
    return outage.failures


def _publish_local(message: dict[str, Any]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for hub in local_hubs():
        if hub.loop is running:
            hub.put(message)
        else:
            try:
                hub.loop.call_soon_threadsafe(hub.put, message)
            except RuntimeError:
                # The loop closed between listing and scheduling.
                pass


async def _publish_layer(channel_layer: Any, message: dict[str, Any], everyone: bool) -> None:
    targets = message["targets"]
    if everyone or len(targets) > FANOUT_GROUP_THRESHOLD:
        await channel_layer.group_send(protocol.everyone_group(), message)
        return
    for target in targets:
        await channel_layer.group_send(protocol.user_group(target[0]), {**message, "targets": [target]})


# The hubs of this process, one per event loop; hub.get_hub() registers them.
_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_hubs_lock = threading.Lock()


def local_hubs() -> list[Hub]:
    """Return the hubs of this process whose loops are still open."""
    with _hubs_lock:
        for loop in [loop for loop in _hubs if loop.is_closed()]:
            del _hubs[loop]
        return list(_hubs.values())
