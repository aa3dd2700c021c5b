"""Bench-only HTTP endpoints that call notify() and broadcast() inside the server process.

With the in-memory layer only the server process can reach its sockets, so the
benchmark triggers notifications over HTTP, exactly as a view of a real project
would. Each endpoint answers with ``time.time()`` taken just before the call,
which the clients' receipt times are measured against. Never route these in a
real project: they are unauthenticated.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import time
from collections import Counter
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from benchmarks import bare, baseline
from django_live_notify import analytics, broadcast, notify
from django_live_notify.publish import local_hubs

# What the acks of this process cost (run.py --acks): written batches (one UPDATE each, acks only), reports
# (one per ack frame), rows set, and seconds spent in the writes, on channels' database thread.
ACKS = {"batches": 0, "reports": 0, "rows": 0, "seconds": 0.0}
_record = analytics.record_batched.function


def _record_counted(reports: list) -> list[int]:
    began = time.perf_counter()
    changed = _record(reports)
    ACKS["seconds"] += time.perf_counter() - began
    ACKS["batches"] += 1
    ACKS["reports"] += len(reports)
    ACKS["rows"] += changed[0] if changed else 0
    return changed


analytics.record_batched.function = _record_counted

# Garbage-collector pauses of this process per generation: how many, the CPU seconds they took (of the thread that
# collected) and the longest one (wall clock: what a socket waits).
GC: dict[str, list[float]] = {"count": [0, 0, 0], "seconds": [0.0, 0.0, 0.0], "longest": [0.0, 0.0, 0.0]}
_gc_began = (0.0, 0.0)


def _time_gc(phase: str, info: dict) -> None:
    global _gc_began
    if phase == "start":
        _gc_began = (time.perf_counter(), time.thread_time())
        return
    generation = info["generation"]
    GC["count"][generation] += 1
    GC["seconds"][generation] += time.thread_time() - _gc_began[1]
    GC["longest"][generation] = max(GC["longest"][generation], time.perf_counter() - _gc_began[0])


gc.callbacks.append(_time_gc)

MESSAGE = "Ana asked for: fix the kitchen sink, tomorrow morning if possible."


def closing_connections(view: Any) -> Any:
    """Close the request thread's database connections when ``view`` returns.

    Under ASGI each request runs in a thread of its own, and the bench keeps connections (CONN_MAX_AGE, for the
    sockets' database thread): without this, 200 targeted calls would hold 200 PostgreSQL connections, past its
    default limit of 100.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> JsonResponse:
        try:
            response: JsonResponse = view(request)
            return response
        finally:
            connections.close_all()

    return wrapper


@csrf_exempt
@closing_connections
def bench_notify(request: HttpRequest) -> JsonResponse:
    """Notify one user (``{"user_id", "title", "kind": "live"|"baseline"}``); answer the call's start time."""
    body = json.loads(request.body)
    user = get_user_model().objects.get(pk=body["user_id"])
    started = time.time()
    if body.get("kind") == "bare":
        notification_id = bare.notify(user.pk, body["title"], MESSAGE)
    elif body.get("kind") == "baseline":
        notification_id = baseline.create_and_send_notification(user, "service_request", body["title"], MESSAGE)
    else:
        notification_id = notify(
            user, title=body["title"], message=MESSAGE, notification_type="service_request", url="/requests/1/"
        ).pk
    return JsonResponse({"started": started, "finished": time.time(), "id": notification_id})


@csrf_exempt
@closing_connections
def bench_broadcast(request: HttpRequest) -> JsonResponse:
    """Notify every active user (``{"title", "kind"}``); answer the call's start time."""
    body = json.loads(request.body)
    started = time.time()
    if body.get("kind") == "bare":
        count = bare.broadcast(body["title"], MESSAGE)
    elif body.get("kind") == "baseline":
        count = baseline.broadcast_system_notification(body["title"], MESSAGE)
    else:
        count = broadcast(title=body["title"], message=MESSAGE)
    return JsonResponse({"started": started, "finished": time.time(), "count": count})


async def bench_stats(request: HttpRequest) -> JsonResponse:
    """Answer this process's pid and how many sockets each consumer holds (runs on the event loop)."""
    live = sum(hub.connection_count for hub in local_hubs())
    objects = {}
    if request.GET.get("objects"):
        # What the garbage collector tracks (and scans in a full collection), by type: run.py --objects.
        tracked = gc.get_objects()
        kinds = Counter(type(value).__qualname__ for value in tracked)
        # Suspended coroutines, by function: each holds its frame for as long as its socket is open.
        coroutines = Counter(value.cr_code.co_qualname for value in tracked if type(value).__name__ == "coroutine")
        objects = {
            "tracked": sum(kinds.values()),
            "types": kinds.most_common(25),
            "coroutines": coroutines.most_common(12),
        }
    return JsonResponse(
        {
            "pid": os.getpid(),
            "live": live,
            # Sweeps finished by this process's hubs (idle sockets, session re-check, recovery): run.py reads memory
            # after one that began after the last handshake.
            "sweeps": sum(hub.stats["sweeps"] for hub in local_hubs()),
            "baseline": baseline.open_sockets,
            "bare": len(bare.sockets),
            "gc": GC,
            "objects": objects,
            "acks": ACKS,
        }
    )


urlpatterns = [
    path("bench/notify/", bench_notify),
    path("bench/broadcast/", bench_broadcast),
    path("bench/stats/", bench_stats),
]
