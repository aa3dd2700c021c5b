"""Prometheus metrics of the sockets, the hub and the senders (the ``metrics`` extra; see docs/metrics.rst).

Every metric is defined once, here, and every instrumented spot makes one call
to a function of this module. Without prometheus_client, or with
``LIVE_NOTIFY["METRICS"] = False``, each of those functions returns after one
flag test: the hot paths (a frame in, a frame out) pay that and nothing more.
A frame in or out is counted without a lock, on an ``itertools.count`` per frame
type (``next()`` on it is atomic under the GIL); :func:`flush` adds those counts
to the Prometheus counters when the metrics are read, at every hub sweep (so that
other processes see them in multiprocess mode) and at exit. Counting a frame so
costs a dict lookup and a ``next()``, not a Prometheus ``inc()`` and its lock.
"""

from __future__ import annotations

import atexit
import functools
import glob
import ipaddress
import itertools
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import live_settings

try:
    import prometheus_client
except ImportError:  # pragma: no cover - tests/test_metrics.py runs a process without it
    prometheus_client = None  # type: ignore[assignment]

__all__ = ["enabled", "exposition", "record_channel_send", "request_allowed"]

# Commit-to-write latency: the target is under 100 ms, so the buckets are finest below it.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWEEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Kinds of live message whose frames reach sockets (publish.FRAMES, NOTIFICATION, BROADCAST).
DELIVERED_KINDS = frozenset({"frames", "notification", "broadcast"})

if prometheus_client is not None:
    from prometheus_client import Counter, Gauge, Histogram

    SOCKETS = Gauge(
        "live_notify_sockets",
        "WebSocket connections open in this process's hubs.",
        multiprocess_mode="livesum",
    )
    FRAMES_IN = Counter("live_notify_frames_in_total", "Client frames received, by frame type.", ["type"])
    FRAMES_OUT = Counter("live_notify_frames_out_total", "Frames written to sockets, by frame type.", ["type"])
    SEND_CALLS = Counter("live_notify_send_calls_total", "Calls of notify() and broadcast().", ["function"])
    SEND_ROWS = Counter(
        "live_notify_send_rows_total", "Notification rows stored or updated by notify() and broadcast().", ["function"]
    )
    DELIVERY_LATENCY = Histogram(
        "live_notify_delivery_latency_seconds",
        "Seconds from the sender's commit until a process has written the message's frames to its sockets.",
        ["kind"],
        buckets=LATENCY_BUCKETS,
    )
    LAYER_ERRORS = Counter("live_notify_layer_errors_total", "Failed channel-layer calls.", ["operation"])
    LAYER_RECOVERIES = Counter(
        "live_notify_layer_recoveries_total", "Channel-layer calls that work again after failing.", ["operation"]
    )
    SOCKETS_DROPPED = Counter(
        "live_notify_sockets_dropped_total", "Sockets aborted because they fell behind or flooded.", ["reason"]
    )
    SWEEP_DURATION = Histogram(
        "live_notify_sweep_duration_seconds",
        "Seconds one periodic sweep of a hub took, by sweep.",
        ["sweep"],
        buckets=SWEEP_BUCKETS,
    )
    CHANNEL_SENDS = Counter(
        "live_notify_channel_sends_total", "Push and email deliveries, by channel and outcome.", ["channel", "outcome"]
    )

# None until the settings are first read (and again after they change); then whether metrics are recorded.
_on: bool | None = None


class _FrameCount:
    """Frames of one type counted since the process started, and how many of them the Prometheus counter has."""

    __slots__ = ("child", "count", "flushed")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.count = itertools.count()
        self.flushed = 0

    def flush(self) -> None:
        # repr is "count(N)": the one way to read an itertools.count without advancing it.
        total = int(repr(self.count)[6:-1])
        if total > self.flushed:
            self.child.inc(total - self.flushed)
            self.flushed = total


_frames_in: dict[str, _FrameCount] = {}
_frames_out: dict[str, _FrameCount] = {}
_flush_lock = threading.Lock()
_children_lock = threading.Lock()
_send_calls: dict[str, tuple[Any, Any]] = {}


def _frame_count(counts: dict[str, _FrameCount], metric: Any, frame_type: str) -> _FrameCount:
    with _children_lock:
        count = counts.get(frame_type)
        if count is None:
            count = counts[frame_type] = _FrameCount(metric.labels(frame_type))
        return count


def flush() -> None:
    """Add the frames counted since the last flush to the Prometheus counters."""
    with _flush_lock:
        for counts in (_frames_in, _frames_out):
            for count in list(counts.values()):
                count.flush()


@atexit.register
def _exit() -> None:
    """Write this process's last frame counts; in multiprocess mode, take its sockets out of the live sum."""
    flush()
    if prometheus_client is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def enabled() -> bool:
    """Tell whether metrics are recorded: prometheus_client is installed and ``METRICS`` is true."""
    global _on
    if _on is None:
        _on = prometheus_client is not None and live_settings.metrics
    return _on


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    global _on
    if setting == "LIVE_NOTIFY":
        _on = None


def socket_opened() -> None:
    """Count a socket registered in a hub."""
    if _on or (_on is None and enabled()):
        SOCKETS.inc()


def sockets_closed(count: int = 1) -> None:
    """Count ``count`` sockets that left their hub."""
    if count and (_on or (_on is None and enabled())):
        SOCKETS.dec(count)


def frame_in(frame_type: Any) -> None:
    """Count one client frame of ``frame_type`` (a protocol type, or "unknown": never the client's own string)."""
    if _on or (_on is None and enabled()):
        count = _frames_in.get(frame_type) or _frame_count(_frames_in, FRAMES_IN, frame_type)
        next(count.count)


def frame_out(frame: str) -> None:
    """Count one text frame written to a socket, by the type it starts with (every frame is ``{"type":"...``)."""
    if _on or (_on is None and enabled()):
        frame_type = frame[9 : frame.find('"', 9)] if frame.startswith('{"type":"') else "other"
        count = _frames_out.get(frame_type)
        if count is None:
            # Frames are built by this app only, but a bug must not grow the label set without end.
            count = _frame_count(_frames_out, FRAMES_OUT, frame_type if len(_frames_out) < 64 else "other")
        next(count.count)


def sent(function: str, rows: int) -> int:
    """Count one call of ``function`` ("notify" or "broadcast") that stored or updated ``rows`` rows; return rows."""
    if _on or (_on is None and enabled()):
        children = _send_calls.get(function)
        if children is None:
            children = _send_calls[function] = (SEND_CALLS.labels(function), SEND_ROWS.labels(function))
        children[0].inc()
        children[1].inc(rows)
    return rows


def stamp(message: dict[str, Any]) -> None:
    """Mark a live message with the time it is published, right after its transaction committed."""
    if _on or (_on is None and enabled()):
        message.setdefault("committed_at", time.time())


def delivered(message: dict[str, Any], connections: dict[str, Any]) -> None:
    """Observe the commit-to-write latency of a message a hub has just written to its sockets.

    Observed once per message and process that holds at least one of its recipients' sockets (for a
    broadcast, one socket of anyone), not once per socket: the frames of one message are written in
    one pass, and a broadcast to 10,000 sockets must not cost 10,000 observations.
    """
    if not (_on or (_on is None and enabled())):
        return
    committed_at = message.get("committed_at")
    kind = message.get("kind")
    if committed_at is None or kind not in DELIVERED_KINDS or not connections:
        return
    if kind != "broadcast" and not any(target[0] in connections for target in message["targets"]):
        return
    DELIVERY_LATENCY.labels(kind).observe(max(0.0, time.time() - committed_at))


def layer_error(operation: str) -> None:
    """Count a failed channel-layer call: "receive", "publish" or "groups"."""
    if _on or (_on is None and enabled()):
        LAYER_ERRORS.labels(operation).inc()


def layer_recovered(operation: str) -> None:
    """Count a channel-layer operation that works again after failing."""
    if _on or (_on is None and enabled()):
        LAYER_RECOVERIES.labels(operation).inc()


def socket_dropped(stat: str, reason: str) -> None:
    """Count a socket its outbox aborted: "flood", "write_timeout" (one write waited too long) or "backlog"."""
    if _on or (_on is None and enabled()):
        if stat == "flood_aborted":
            label = "flood"
        elif "write pending" in reason:
            label = "write_timeout"
        else:
            label = "backlog"
        SOCKETS_DROPPED.labels(label).inc()


Timed = TypeVar("Timed", bound=Callable[..., Awaitable[Any]])


def timed(sweep: str) -> Callable[[Timed], Timed]:
    """Decorate a hub's periodic coroutine so that each run's duration is observed as ``sweep``."""

    def decorate(function: Timed) -> Timed:
        @functools.wraps(function)
        async def run(*args: Any, **kwargs: Any) -> Any:
            if not (_on or (_on is None and enabled())):
                return await function(*args, **kwargs)
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                SWEEP_DURATION.labels(sweep).observe(time.perf_counter() - started)

        return run  # type: ignore[return-value]

    return decorate


def record_channel_send(channel: str, outcome: str) -> None:
    """Count one delivery attempt on a delivery channel; the channel worker calls it once per attempt.

    ``channel`` is the channel's name ("push", "email", or a third-party backend's); ``outcome`` one of
    "sent" (the service accepted it), "failed" (to be retried), "gone" (the subscription or address is
    dead and was removed) or "skipped" (preferences or quiet hours held it back). Keep both to a small
    fixed set: every distinct pair is a time series.
    """
    if _on or (_on is None and enabled()):
        CHANNEL_SENDS.labels(channel, outcome).inc()


def request_allowed(request: Any) -> bool:
    """Tell whether ``request`` may read the metrics: a matching bearer token, or a client address allowed."""
    token = live_settings.metrics_token
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), str(token).encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return ``METRICS_ALLOWED_IPS`` as networks; a plain address is a network of one."""
    networks = []
    for entry in live_settings.metrics_allowed_ips:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"LIVE_NOTIFY['METRICS_ALLOWED_IPS'] holds {entry!r}, which is no IP address or network: {error}"
            ) from None
    return networks


def exposition() -> tuple[bytes, str]:
    """Return the text exposition of every metric and its content type; merged across processes in multiprocess mode.

    Under ``PROMETHEUS_MULTIPROC_DIR``, each worker writes its values to files there and any worker
    serving the request reads them all (prometheus_client's MultiProcessCollector).
    """
    assert prometheus_client is not None
    flush()
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import CollectorRegistry, multiprocess

        forget_dead_processes(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that are gone, however they ended, from the multiprocess directory.

    uvicorn's workers die by the signal that stopped them, so no exit hook of theirs runs; a crashed
    worker runs none either. A process id that is no longer running is one that ended.
    """
    from prometheus_client import multiprocess

    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        try:
            pid = int(os.path.basename(path)[:-3].rsplit("_", 1)[1])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # running, as another user
