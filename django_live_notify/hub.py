"""The process-local fan-out hub: one per event loop, shared by every socket in it.

Per-message work happens once per process, not once per connection: a message
reaches the hub once (straight from the sender on the in-memory layer, through
one channel-layer channel otherwise), the hub looks the recipients up in its
registry of live connections and queues pre-encoded frames on their
sockets' outboxes, never waiting on a socket (see outbox.py). Heartbeat reaping
is one periodic sweep, not a timer per connection. The link to the channel layer
(reads, group joins, re-joins after an outage) is in layer_link.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Protocol

from channels.db import database_sync_to_async

from . import metrics, protocol, publish, replay, session_check
from .batching import batches
from .conf import live_settings
from .layer_link import LayerLink
from .protocol import everyone_group, user_group
from .publish import _hubs, _hubs_lock, layer
from .tokens import forget_old_revocations, record_revocation

logger = logging.getLogger("django_live_notify")

# Group joins and leaves in flight at once. channels-redis takes a pooled Redis
# connection per call, and redis-py's pool (100 by default) raises
# MaxConnectionsError instead of waiting, which killed sockets in connect storms.
LAYER_CALLS_IN_FLIGHT = 20
# How long a user's delivered ids outlive the user's last socket here: the user's next page
# (a new socket, a few hundred milliseconds later) must not be sent them again by the sweep.
DEPARTED_SECONDS = 300.0


class Connection(Protocol):
    user_key: str
    last_seen: float
    session_key: str | None
    auth_hash: str | None

    def send_frame(self, frame: str) -> None:
        """Queue a frame; never wait on the socket."""

    def send_frames(self, frames: list[str]) -> None:
        """Queue frames in order; never wait on the socket."""

    async def close_with(self, code: int) -> None:
        """Leave the hub and queue a close; never wait on the socket."""


class Hub(LayerLink):
    """Registry of this event loop's live connections, and the loop that feeds them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # user key -> that user's connections here, oldest first.
        self.connections: dict[str, dict[Connection, None]] = {}
        # Users whose group join is under way: their sockets are registered, but the layer may not reach them yet.
        self.joining: set[str] = set()
        self.stats: Counter[str] = Counter()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.layer = layer()
        self.channel_name: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.starting: asyncio.Task[None] | None = None
        # The highest id the recovery sweep has looked at (see recover()); per local user, the
        # watermark when the user's first socket here opened (older rows are that socket's resume's
        # business), and the ids above the watermark its sockets here were sent (no entry: none;
        # kept sparse, as most users get nothing between two sweeps).
        self.watermark: int | None = None
        self.since: dict[str, int] = {}
        # One id is kept as an int: a broadcast must not leave a set per user for the garbage collector.
        self.delivered: dict[str, int | set[int]] = {}
        # Per user whose last socket here closed while its delivered ids were still above the
        # watermark: when. The ids are kept, so that the user's next page is not sent them again.
        self.departed: dict[str, float] = {}
        # Set when the channel layer failed: a restarted Redis has forgotten the group memberships.
        self.rejoin = False
        self.rejoining: asyncio.Task[None] | None = None
        # Set when a re-join worked: the layer answers again, so a reader backing off reads at once.
        self.layer_back = asyncio.Event()
        self.layer_calls = asyncio.Semaphore(LAYER_CALLS_IN_FLIGHT)

    async def start(self) -> None:
        """Subscribe this process once and start the delivery and sweep tasks."""
        if self.layer is not None:
            self.channel_name = await self.layer.new_channel(f"{live_settings.group_prefix}.hub")
            await self.layer.group_add(everyone_group(), self.channel_name)
            self.tasks.append(self.loop.create_task(self._read_layer()))
        self.tasks.append(self.loop.create_task(self._deliver_forever()))
        self.tasks.append(self.loop.create_task(self._sweep_forever()))

    async def stop(self) -> None:
        """Cancel the hub's tasks and forget its connections."""
        for task in self.tasks:
            task.cancel()
        # A layer's receive() may clean up on cancellation; never wait on it for long. With channels-redis 4.3 and
        # redis-py 8.2, a cancelled receive() of either layer ended within 2 ms (idle, after a message, and with
        # Redis stopped), so a stop() that waits the full 2 s is waiting on something else.
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=2)
        self.tasks.clear()
        if self.rejoining is not None:
            self.rejoining.cancel()
        metrics.sockets_closed(self.connection_count)
        self.connections.clear()

    @property
    def connection_count(self) -> int:
        return sum(len(connections) for connections in self.connections.values())

    async def add(self, connection: Connection) -> None:
        """Register a connection; join its user's group when it is the user's first here.

        Past ``MAX_CONNECTIONS_PER_USER`` sockets of one user in this process,
        the oldest is closed with 4005.
        """
        connections = self.connections.setdefault(connection.user_key, {})
        first = not connections
        connections[connection] = None
        metrics.socket_opened()
        self.stats["connections_opened"] += 1
        limit = live_settings.max_connections_per_user
        while limit and len(connections) > limit:
            oldest = next(iter(connections))
            self.stats["closed_too_many_connections"] += 1
            await self.remove(oldest)
            await oldest.close_with(protocol.CLOSE_TOO_MANY_CONNECTIONS)
        if first:
            # The socket resumes on connect, so anything up to the last sweep is its own business.
            self.since[connection.user_key] = self.watermark or 0
            self.departed.pop(connection.user_key, None)
        if first and self.layer is not None:
            self.joining.add(connection.user_key)
            try:
                await self._join(user_group(connection.user_key))
            finally:
                self.joining.discard(connection.user_key)

    async def remove(self, connection: Connection) -> None:
        """Forget a connection; leave its user's group when it was the user's last here."""
        connections = self.connections.get(connection.user_key)
        if connections is None or connection not in connections:
            return
        del connections[connection]
        metrics.sockets_closed()
        if not connections:
            del self.connections[connection.user_key]
            self.since.pop(connection.user_key, None)
            if connection.user_key in self.delivered:
                self.departed[connection.user_key] = self.loop.time()
            if self.layer is not None:
                try:
                    async with self.layer_calls:
                        await self.layer.group_discard(user_group(connection.user_key), self.channel_name)
                except Exception:
                    logger.warning("Could not leave group of user %s", connection.user_key, exc_info=True)

    def put(self, message: dict[str, Any]) -> None:
        """Queue a message for delivery; call from the hub's own loop."""
        self.queue.put_nowait(message)

    async def _deliver_forever(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.deliver(message)
            except Exception:
                logger.exception("Could not deliver a live notification message")

    async def _sweep_forever(self) -> None:
        last_refresh = self.loop.time()
        while True:
            await asyncio.sleep(sweep_interval())
            await self.sweep()
            metrics.flush()
            await session_check.recheck(self)
            due = self.loop.time() - last_refresh >= self.group_refresh_interval
            if self.layer is not None and (due or self.rejoin):
                last_refresh = self.loop.time()
                if not await self.refresh_groups():
                    self.start_rejoin()
            try:
                await self.recover()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Recovery sweep failed; retrying at the next sweep", exc_info=True)
            self.stats["sweeps"] += 1

    @metrics.timed("recover")
    async def recover(self) -> int:
        """Send local users the stored notifications whose live send never reached this hub.

        One query per sweep looks at rows stored since the previous sweep, for
        users connected here; only users with a gap cost more. Return how many
        notifications were sent.
        """
        grace = sweep_interval()
        local = {key: (since, _id_set(self.delivered.get(key))) for key, since in self.since.items()}
        self.watermark, frames_by_user, ids_by_user = await database_sync_to_async(replay.missed_frames)(
            self.watermark, local, grace
        )
        sent = 0
        for key, frames in frames_by_user.items():
            self.send_frames(key, frames)
            for notification_id in ids_by_user[key]:
                self.note_delivered(key, notification_id)
            sent += len(frames) - 1
        watermark = self.watermark
        kept: dict[str, int | set[int]] = {}
        for key, ids in self.delivered.items():
            if isinstance(ids, int):
                if ids > watermark:
                    kept[key] = ids
            elif above := {notification_id for notification_id in ids if notification_id > watermark}:
                kept[key] = above
        self.delivered = kept
        # A departed user's ids are dropped once below the watermark, or after DEPARTED_SECONDS at
        # the latest (the watermark only passes the rows of users connected here).
        expired = self.loop.time() - DEPARTED_SECONDS
        for key, departed_at in list(self.departed.items()):
            if key not in self.delivered or departed_at < expired:
                del self.departed[key]
                self.delivered.pop(key, None)
        return sent

    def note_delivered(self, key: str, notification_id: int) -> None:
        """Record that the sockets of user ``key`` were sent notification ``notification_id``."""
        if key in self.since and notification_id > (self.watermark or 0):
            ids = self.delivered.get(key)
            if ids is None:
                self.delivered[key] = notification_id
            elif isinstance(ids, int):
                if ids != notification_id:
                    self.delivered[key] = {ids, notification_id}
            else:
                ids.add(notification_id)

    @metrics.timed("idle")
    async def sweep(self) -> int:
        """Close every connection silent for longer than the idle timeout; return how many."""
        forget_old_revocations()
        deadline = self.loop.time() - live_settings.idle_timeout
        idle = [
            connection
            for connections in self.connections.values()
            for connection in connections
            if connection.last_seen < deadline
        ]
        for connection in idle:
            await self.remove(connection)
            await connection.close_with(protocol.CLOSE_IDLE)
        self.stats["closed_idle"] += len(idle)
        return len(idle)

    async def deliver(self, message: dict[str, Any]) -> None:
        """Hand one message to the handler of its kind."""
        handler = self.handlers.get(message.get("kind"))  # type: ignore[arg-type]
        if handler is None:
            # A process of another version may still send messages this one does not know.
            logger.warning("Ignored a live notification message of unknown kind %r", message.get("kind"))
            return
        await handler(self, message)
        metrics.delivered(message, self.connections)

    async def deliver_frames(self, message: dict[str, Any]) -> None:
        """Write given frames to given users: targets ``[key, [frame, ...]]``."""
        for key, frames in message["targets"]:
            self.send_frames(key, frames)

    async def deliver_notification(self, message: dict[str, Any]) -> None:
        """Write one notification shared by many rows: targets ``[key, id or None, unread count or None]``.

        No id: the row was stored silently (the user's preference), only the count goes.
        """
        self.send_rows(message["head"], message["tail"], message["targets"])

    async def deliver_broadcast(self, message: dict[str, Any]) -> None:
        """Write the rows of one broadcast for the users here (see fanout.py), then look them up and send them as
        a notification a batch of users at a time, so the first sockets get it while the next batch is read."""
        keys = list(self.connections)
        if not keys:
            return
        # A database server writes a batch's rows while this process sends the batch before; SQLite works in this
        # process, where fewer, larger statements cost less (measured: docs/performance.rst).
        written = replay.writes_in_process()
        if written:
            await database_sync_to_async(replay.write_pending)(keys)
        for batch in batches(keys):
            targets = await self.broadcast_targets(message["broadcast"], batch, written)
            self.send_rows(message["head"], message["tail"], targets)

    async def deliver_close(self, message: dict[str, Any]) -> None:
        """Revoke a user's tokens and close the sockets of ended sessions."""
        for key, session_key, auth_hash, code, revoked_at in message["close"]:
            record_revocation(key, revoked_at)
            await self.close_sessions(key, session_key, auth_hash, code, revoked_at)

    handlers = {
        publish.FRAMES: deliver_frames,
        publish.NOTIFICATION: deliver_notification,
        publish.BROADCAST: deliver_broadcast,
        publish.CLOSE: deliver_close,
    }

    def send_rows(self, head: str, tail: str | list[str], targets: list[list[Any]]) -> None:
        for key, notification_id, count in targets:
            if key not in self.connections:
                continue
            frames = []
            if notification_id is not None:
                self.note_delivered(key, notification_id)
                text_id = str(notification_id)
                frames.append(head + text_id + protocol.tail_for(tail, text_id))
            if count is not None:
                frames.append(protocol.unread_count_frame(count))
            self.send_frames(key, frames)

    def send_frames(self, key: str, frames: list[str]) -> None:
        """Queue ``frames`` on every socket of user ``key`` here."""
        for connection in list(self.connections.get(key, ())):
            connection.send_frames(frames)

    async def broadcast_targets(self, broadcast: dict[str, Any], keys: list[str], written: bool) -> list[list[Any]]:
        """Write (unless ``written``) and look up the rows of one broadcast for users ``keys`` connected here:
        ``[key, id, count]`` each."""
        return await database_sync_to_async(replay.broadcast_targets)(
            broadcast["id"], broadcast["after"], keys, written=written
        )

    async def close_sessions(
        self, key: str, session_key: str | None, auth_hash: str | None, code: int, revoked_at: float = 0.0
    ) -> None:
        """Close the user's sockets of ``session_key`` (all when None) whose auth hash is not ``auth_hash``,
        and the user's token sockets whose token was issued until ``revoked_at``."""
        for connection in list(self.connections.get(key, ())):
            if not session_check.closed_by(connection, session_key, auth_hash, revoked_at):
                continue
            self.stats["closed_signed_out"] += 1
            await self.remove(connection)
            await connection.close_with(code)


def _id_set(ids: int | set[int] | None) -> set[int]:
    if ids is None:
        return set()
    return {ids} if isinstance(ids, int) else set(ids)


def sweep_interval() -> float:
    return max(0.05, min(live_settings.heartbeat_interval, live_settings.idle_timeout) / 2)


async def get_hub() -> Hub:
    """Return the running loop's hub, starting it on first use.

    A hub that cannot start (the channel layer is down) is dropped and the error
    raised to every socket waiting on it, so the next socket tries again.
    """
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = Hub(loop)
        with _hubs_lock:
            _hubs[loop] = hub
        hub.starting = loop.create_task(hub.start())
    assert hub.starting is not None
    try:
        # Shielded: one socket going away must not cancel the start the others wait on.
        await asyncio.shield(hub.starting)
    except Exception:
        with _hubs_lock:
            if _hubs.get(loop) is hub:
                del _hubs[loop]
        raise
    return hub


async def stop_hubs() -> None:
    """Stop the running loop's hub (tests and shutdown)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()
