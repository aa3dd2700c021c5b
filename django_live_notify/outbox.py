"""One socket's bounded write buffer: no socket can make delivery wait.

The hub and the consumer queue frames here and return at once. A frame goes
to the server at once when the server takes it without waiting, as it does
for a socket that reads; only when a write waits does a writer task take over,
and it lives while frames are pending. A socket that falls behind (more than
``MAX_PENDING_FRAMES`` frames queued behind a waiting write, or one write the
server has not taken after ``WRITE_TIMEOUT`` seconds) is aborted at once: its
transport is dropped without waiting for unsent data to flush.

ASGI gives an application no way to abort, and a ``websocket.close`` waits
for the socket to drain under uvicorn. So the transport is looked up behind
the ``send`` callable the server passed in (see :func:`server_protocol`).
Under daphne ``send`` never waits: frames pile up in twisted's buffer instead,
so there a socket whose transport holds more than ``HIGH_WATER`` bytes counts
as not writable, the same way uvicorn's ``send`` waits past asyncio's
high-water mark. Cost per idle socket: one object of eight slots, no task.

Under uvicorn's ``websockets-sansio`` implementation, frames that would be
written at once anyway are written straight to the transport, all frames of
one call in one write (see :func:`direct_transport`): what uvicorn's ``send``
would do, without a coroutine, a message dict and a frame object per frame.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from . import metrics, protocol
from .conf import live_settings

logger = logging.getLogger("django_live_notify")

# Bytes a twisted transport may hold before its socket counts as not writable (asyncio's default high-water mark).
HIGH_WATER = 64 * 1024
# How often a writer looks again at a twisted transport that holds more than HIGH_WATER.
POLL_SECONDS = 0.05


class Owner(Protocol):
    """What an outbox needs from its socket's consumer."""

    base_send: Any

    async def _close(self, code: int) -> None: ...

    def dropped(self, reason: str, stat: str = ...) -> None: ...


class Outbox:
    """Queue a socket's frames and write them in the background; abort the socket when it falls behind."""

    __slots__ = ("aborted", "closing", "items", "owner", "server", "since", "timer", "writer")

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        # Frames (str) and at most one close code (int, last); None while nothing is pending.
        self.items: deque[str | int] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        # When the write in progress began: the deadline runs from here.
        self.since = 0.0
        self.closing = False
        self.aborted = False
        # The server's protocol object behind ``send``; False until looked up.
        self.server: Any = False

    @property
    def pending(self) -> int:
        return len(self.items) if self.items is not None else 0

    def put(self, frame: str) -> None:
        """Queue one text frame; never waits. Dropped once the socket is closing."""
        if not self.closing and not (self.writer is None and self._write_direct((frame,))):
            self._queue(frame)

    def put_many(self, frames: Sequence[str]) -> None:
        """Queue text frames in order; never waits. In one transport write when the server allows it."""
        if self.closing or not frames or (self.writer is None and self._write_direct(frames)):
            return
        for frame in frames:
            self.put(frame)

    def _write_direct(self, frames: Sequence[str]) -> bool:
        """Write ``frames`` to the transport now if nothing is pending and the server allows it; tell whether done."""
        transport = direct_transport(self._server())
        if transport is None:
            return False
        transport.write(b"".join([part for frame in frames for part in text_frame(frame)]))
        for frame in frames:
            metrics.frame_out(frame)
        return True

    def close(self, code: int) -> None:
        """Queue a close with ``code`` after the frames already queued; never waits."""
        if not self.closing:
            self.closing = True
            self._queue(code)

    def _queue(self, item: str | int) -> None:
        if self.writer is not None:
            assert self.items is not None
            self.items.append(item)
            if len(self.items) > live_settings.max_pending_frames:
                self.abort(f"{len(self.items)} frames pending")
            return
        if buffered_bytes(self._server()) > HIGH_WATER:
            self._start_writer(None, None, item)
            return
        # Most writes complete without suspending: run the send now, and only when it waits
        # (the server's buffer is full) hand the rest of it to a writer task.
        write = self._write_one(item)
        try:
            waiting_on = write.send(None)
        except StopIteration:
            return
        self._start_writer(write, waiting_on, None)

    def _start_writer(self, write: Any, waiting_on: Any, item: str | int | None) -> None:
        loop = asyncio.get_running_loop()
        self.items = deque() if item is None else deque((item,))
        self.since = loop.time()
        self.writer = loop.create_task(self._write(write, waiting_on))
        self.timer = loop.call_at(self.since + live_settings.write_timeout, self._check_deadline)

    async def _write_one(self, item: str | int) -> None:
        try:
            if isinstance(item, str):
                await self.owner.base_send({"type": "websocket.send", "text": item})
                metrics.frame_out(item)
            else:
                await self.owner._close(item)
        except Exception:
            # The socket is gone (its disconnect takes it out of the hub), or the server refused
            # this one frame (daphne's message size limit): either way, go on with the next.
            logger.debug("Dropped a frame the server did not take", exc_info=True)

    async def _write(self, write: Any, waiting_on: Any) -> None:
        """Finish the write that suspended (if any), then write what was queued meanwhile."""
        loop = asyncio.get_running_loop()
        server = self._server()
        try:
            if write is not None:
                await _resume(write, waiting_on)
            while self.items:
                self.since = loop.time()
                # twisted has no drain event an application can wait on: its transport is polled.
                while buffered_bytes(server) > HIGH_WATER:  # noqa: ASYNC110
                    await asyncio.sleep(POLL_SECONDS)
                await self._write_one(self.items.popleft())
            # The last frame sits in the server's buffer: the socket is not writable until it drains.
            self.since = loop.time()
            while buffered_bytes(server) > HIGH_WATER:  # noqa: ASYNC110
                await asyncio.sleep(POLL_SECONDS)
        finally:
            self.writer = None
            self.items = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None

    def _check_deadline(self) -> None:
        self.timer = None
        if self.writer is None:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self.since
        if waited >= live_settings.write_timeout:
            self.abort(f"a write pending for {waited:.1f} s")
        else:
            self.timer = loop.call_at(self.since + live_settings.write_timeout, self._check_deadline)

    def abort(
        self, reason: str, code: int = protocol.CLOSE_TOO_SLOW, stat: str = "closed_too_slow", grace: float = 0.0
    ) -> None:
        """Drop the socket without flushing: close ``code`` if it still fits, then abort (after ``grace`` s)."""
        if self.aborted:
            return
        self.aborted = self.closing = True
        pending = self.pending
        self.items = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.writer is not None:
            self.writer.cancel()
        self.owner.dropped(f"{reason}; {pending} frame(s) dropped", stat)
        if not abort_transport(self._server(), code, grace):
            # An unknown server (or a test's send): closing is all an application can do.
            logger.warning("Cannot abort this server's transport; closing the socket instead")
            asyncio.get_running_loop().create_task(self.owner._close(code))

    def _server(self) -> Any:
        if self.server is False:
            self.server = server_protocol(self.owner.base_send)
        return self.server


async def _resume(coroutine: Any, waiting_on: Any) -> None:
    """Drive ``coroutine``, already started by hand, from where it suspended on ``waiting_on`` to its end.

    What a task does for a coroutine it started itself (asyncio.Task's eager start, which
    Python 3.11 lacks): wait for the future it yielded (None: it only gave up its turn),
    then send it in again. Cancelled meanwhile, the coroutine is closed.
    """
    try:
        while True:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                # What a task does with a future its coroutine yields; awaiting it again would
                # otherwise raise "await wasn't used with future".
                waiting_on._asyncio_future_blocking = False
                try:
                    await waiting_on
                except Exception:
                    if not waiting_on.done():
                        raise
                    # Its result, error included, is the coroutine's to read.
            try:
                waiting_on = coroutine.send(None)
            except StopIteration:
                return
    except BaseException:
        coroutine.close()
        raise


def server_protocol(send: Any) -> Any:
    """Return the server's protocol object behind an ASGI ``send`` callable, or None.

    uvicorn passes a bound method of its protocol (``protocol.transport`` is an
    asyncio transport); daphne passes ``partial(server.handle_reply, protocol)``
    (``protocol.transport`` is a twisted transport). Middleware that wraps
    ``send`` is looked through when it keeps the wrapped callable as
    ``__wrapped__`` or, like channels' session middleware, ``real_send``.
    """
    for _ in range(8):
        if isinstance(send, functools.partial):
            candidates = [*send.args, send.func]
        else:
            candidates = [getattr(send, "__self__", None)]
        for candidate in candidates:
            if candidate is not None and hasattr(getattr(candidate, "transport", None), "write"):
                return candidate
        owner = getattr(send, "__self__", None)
        send = getattr(send, "__wrapped__", None) or getattr(owner, "real_send", None)
        if send is None:
            return None
    return None


@functools.cache
def _sansio() -> tuple[Any, Any] | None:
    """Return uvicorn's websockets-sansio protocol class and websockets' OPEN state, or None without uvicorn."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
        from websockets.protocol import State
    except ImportError:
        return None
    return WebSocketsSansIOProtocol, State.OPEN


def direct_transport(server: Any) -> Any:
    """Return the transport to write a text frame to now, or None when it must go through ``send``.

    Only for uvicorn's websockets-sansio protocol, in the one state in which its
    ``send`` would write the frame at once and do nothing else: handshake done,
    no close sent, writing not paused, the connection open, no extension (per-message
    deflate would compress) and the transport below ``HIGH_WATER``. ``send`` then
    only serializes an unmasked frame (see :func:`text_frame`) and writes it.
    """
    sansio = _sansio()
    if sansio is None or type(server) is not sansio[0]:
        return None
    if (
        not server.handshake_complete
        or server.close_sent
        or server.disconnected
        or server.initial_response is not None
        or not server.writable.is_set()
    ):
        return None
    conn = server.conn
    if conn.state is not sansio[1] or conn.extensions or conn.expect_continuation_frame:
        return None
    transport = server.transport
    if transport.is_closing() or transport.get_write_buffer_size() > HIGH_WATER:
        return None
    return transport


_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


def text_frame(text: str) -> tuple[bytes, bytes]:
    """Return the header and payload of an unmasked, unfragmented text frame of ``text`` (RFC 6455, 5.2)."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)), payload
    if length < 65536:
        return _HEADER_16.pack(0x81, 126, length), payload
    return _HEADER_64.pack(0x81, 127, length), payload


def buffered_bytes(server: Any) -> int:
    """Return the bytes the server's transport holds unsent: asyncio's count, or twisted's buffers; 0 if unknown."""
    transport = getattr(server, "transport", None)
    size = getattr(transport, "get_write_buffer_size", None)
    if size is not None:
        return int(size())
    data = getattr(transport, "dataBuffer", None)
    if data is None:
        return 0
    return len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


def abort_transport(server: Any, code: int, grace: float = 0.0) -> bool:
    """Write a close frame with ``code`` where it still fits, then drop the connection.

    With ``grace``, stop reading at once and drop the connection that many seconds later, so that a
    client that reads gets its close frame (twisted discards what is unsent when it aborts). Tell
    whether the transport could be aborted.
    """
    transport = getattr(server, "transport", None)
    if transport is None:
        return False
    if hasattr(transport, "abortConnection"):
        # twisted (daphne): autobahn writes the close frame; abortConnection() discards what is unsent.
        try:
            # autobahn, like daphne, accepts only 1000 and 3000-4999 from an application.
            server.sendClose(code=protocol.DAPHNE_CLOSE_CODES.get(code, code))
        except Exception:
            logger.debug("Could not write a close frame before aborting", exc_info=True)
        if grace:
            transport.pauseProducing()
            asyncio.get_running_loop().call_later(grace, transport.abortConnection)
        else:
            transport.abortConnection()
        return True
    if hasattr(transport, "abort"):
        # asyncio (uvicorn): an unmasked close frame, then abort() closes without flushing.
        if not transport.is_closing():
            transport.write(struct.pack("!BBH", 0x88, 2, code))
        transport.abort()
        return True
    return False
