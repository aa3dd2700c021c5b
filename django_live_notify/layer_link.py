"""The hub's link to the channel layer: its reads, its group joins, and its recovery when Redis fails.

A mixin of :class:`~django_live_notify.hub.Hub`, kept apart because it is one idea of its own (what to do
when the layer is slow, down or restarted without its data) and none of the per-socket fan-out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from . import metrics, publish
from .protocol import everyone_group, user_group

logger = logging.getLogger("django_live_notify")

# A failed channel-layer read that blocked at least this long was idle, not broken.
IDLE_READ_SECONDS = 0.25
# After the channel layer failed, how long a socket's group join keeps retrying before the
# socket is told to come back later (1013), and the longest pause between two re-join tries.
JOIN_RETRY_SECONDS = 2.0
REJOIN_MAX_DELAY = 0.5


class LayerLink:
    """Read the process's channel, keep its group memberships, and re-join them all after the layer failed."""

    loop: asyncio.AbstractEventLoop
    layer: Any
    channel_name: str | None
    connections: dict[str, Any]
    stats: Counter[str]
    queue: asyncio.Queue[dict[str, Any]]
    rejoin: bool
    rejoining: asyncio.Task[None] | None
    layer_back: asyncio.Event
    layer_calls: asyncio.Semaphore

    async def _join(self, group: str) -> None:
        """Join ``group``, retrying for up to ``JOIN_RETRY_SECONDS`` while the layer is down or reconnecting.

        A call on a pooled connection that Redis closed fails once; redis-py drops
        that connection, so a retry a moment later runs on a fresh one.
        """
        assert self.layer is not None
        deadline = self.loop.time() + JOIN_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                async with self.layer_calls:
                    await self.layer.group_add(group, self.channel_name)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.loop.time() + delay > deadline:
                    raise
                self.start_rejoin()
                await asyncio.sleep(delay)
                delay = min(delay * 2, REJOIN_MAX_DELAY)

    async def _read_layer(self) -> None:
        """Move messages from this process's channel into the queue, surviving layer errors.

        A receive that fails after blocking for a while is an idle read timing
        out (redis-py's socket timeout equals channels-redis' blocking read):
        read again at once. A receive that fails at once means the layer is
        down: warn once, then retry with backoff until it answers again.
        """
        assert self.layer is not None and self.channel_name is not None
        delay = 0.0
        while True:
            started = self.loop.time()
            try:
                message = await self.layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.loop.time() - started >= IDLE_READ_SECONDS:
                    logger.debug("Idle channel-layer read ended with %r; reading again", error)
                    if not _is_timeout(error):
                        # Redis closed the connection under a blocked read: it may be back before the next
                        # read, having forgotten every group membership.
                        self.start_rejoin()
                    continue
                if not delay:
                    logger.warning("Channel layer receive failed; retrying with backoff", exc_info=True)
                self.stats["layer_receive_errors"] += 1
                metrics.layer_error("receive")
                self.start_rejoin()
                # Capped low: once Redis is back, the messages queued for this channel wait for the next read.
                delay = min(max(delay * 2, 0.1), 1.0)
                self.layer_back.clear()
                try:
                    await asyncio.wait_for(self.layer_back.wait(), delay)
                    # Back: the first read may still fail on a connection Redis closed, so retry soon.
                    delay = 0.05
                except TimeoutError:
                    pass
                continue
            if delay:
                logger.info("Channel layer receive works again")
                metrics.layer_recovered("receive")
                delay = 0.0
            if message.get("type") == publish.MESSAGE_TYPE:
                self.queue.put_nowait(message)

    def start_rejoin(self) -> None:
        """Re-join every group as soon as the layer answers again, without waiting for a sweep."""
        self.rejoin = True
        if self.layer is not None and (self.rejoining is None or self.rejoining.done()):
            self.rejoining = self.loop.create_task(self._rejoin_soon())

    async def _rejoin_soon(self) -> None:
        # Retried every REJOIN_MAX_DELAY at most, so that the groups are back within a second of Redis.
        delay = 0.05
        failures = 0
        while self.rejoin:
            self.rejoin = False
            if await self.refresh_groups(quiet=failures > 0):
                self.layer_back.set()
                if failures:
                    logger.info("Re-joined the channel-layer groups after %d failed tries", failures)
                    metrics.layer_recovered("groups")
                return
            self.rejoin = True
            failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, REJOIN_MAX_DELAY)

    @property
    def group_refresh_interval(self) -> float:
        """Seconds between re-joins: channels-redis forgets a group member after ``group_expiry``."""
        return max(0.5, float(getattr(self.layer, "group_expiry", 86400)) / 4)

    async def refresh_groups(self, quiet: bool = False) -> bool:
        """Join the "everyone" group and each local user's group again; tell whether it worked.

        Done before the layer expires the memberships, and after the layer failed:
        a Redis that restarted without its data has forgotten them all.
        """
        assert self.layer is not None
        try:
            await self.layer.group_add(everyone_group(), self.channel_name)
            for key in list(self.connections):
                await self.layer.group_add(user_group(key), self.channel_name)
        except Exception as error:
            if quiet:
                logger.debug("Could not refresh channel-layer group memberships: %r", error)
            else:
                logger.warning("Could not refresh channel-layer group memberships; retrying", exc_info=True)
            metrics.layer_error("groups")
            return False
        return True


def _is_timeout(error: BaseException) -> bool:
    return any(kind.__name__ == "TimeoutError" for kind in type(error).__mro__)
