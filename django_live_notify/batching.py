"""Database calls that many sockets make at once, run together on channels' database thread.

channels runs every ``database_sync_to_async`` call of a process on one
thread. When thousands of sockets connect at once (a server restart, a
network blip), one call per socket makes them queue for that thread one by
one. A :class:`Batcher` gathers the calls that arrive while the previous batch
runs and hands them to its function together: one thread hop and a few
queries per batch instead of per socket. An idle server runs each call at
once, alone.

One bad item fails alone: a batch whose call raises is split in halves and
each half called again, down to single items, so the other callers get their
answers and only the bad item's caller gets the error. That costs at most
about ``2 * log2(batch size)`` extra calls per bad item. The database thread
runs in autocommit mode, so a failed query (PostgreSQL refuses a NUL byte in a
text parameter, for one) leaves no aborted transaction behind for the retries.
A database that cannot be reached (``OperationalError``, ``InterfaceError``)
fails every caller of the batch at once: no retry would answer differently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError

from .conf import live_settings

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """Call ``function(items) -> results`` (same length, same order) with the items of concurrent callers."""

    def __init__(self, function: Callable[[list[Item]], list[Result]], max_batch: int = 500) -> None:
        self.function = function
        self.max_batch = max_batch
        # Per event loop: the callers waiting, and the task that serves them.
        self._queues: dict[asyncio.AbstractEventLoop, _Queue[Item, Result]] = {}

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            for closed in [other for other in self._queues if other.is_closed()]:
                del self._queues[closed]
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[Result] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.task is None or queue.task.done():
            queue.task = loop.create_task(self._serve(queue))
        return await future

    async def _serve(self, queue: _Queue[Item, Result]) -> None:
        call = database_sync_to_async(self._call_isolated)
        while queue.waiting:
            batch, queue.waiting = queue.waiting[: self.max_batch], queue.waiting[self.max_batch :]
            # Callers that went away (socket closed) are left out.
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            try:
                outcomes = await call([item for item, _ in batch])
            except Exception as error:
                outcomes = [(False, error)] * len(batch)
            for (_, future), (succeeded, outcome) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if succeeded:
                    future.set_result(outcome)
                else:
                    future.set_exception(outcome)

    def _call_isolated(self, items: list[Item]) -> list[tuple[bool, Any]]:
        """Return ``(True, result)`` or ``(False, error)`` per item; a failing call is retried on each half."""
        try:
            results = self.function(items)
            if len(results) != len(items):
                raise ValueError(f"{self.function!r} returned {len(results)} results for {len(items)} items")
        except (OperationalError, InterfaceError) as error:
            return [(False, error)] * len(items)
        except Exception as error:
            if len(items) == 1:
                return [(False, error)]
            middle = len(items) // 2
            return self._call_isolated(items[:middle]) + self._call_isolated(items[middle:])
        return [(True, result) for result in results]


class _Queue(Generic[Item, Result]):
    def __init__(self) -> None:
        self.waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self.task: asyncio.Task[None] | None = None


def batches(values: Iterable[Any], size: int | None = None) -> Iterator[list[Any]]:
    """Yield ``values`` in lists of ``size`` (``LIVE_NOTIFY["BATCH_SIZE"]`` by default): one query per list."""
    size = live_settings.batch_size if size is None else size
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


__all__ = ["Batcher", "batches"]
