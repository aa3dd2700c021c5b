"""The floor: a bare ASGI socket on the same uvicorn, with nothing of Django, Channels or a database in its path.

``run.py --floor`` measures it in place of the Channels baseline, so that each figure of django-live-notify reads
as a multiple of what the server alone costs for the same wire work: a handshake that only accepts (the user is
named in the query string, nothing is looked up), and a notification that writes the same two frames per socket
as django-live-notify does (the notification, then the unread count), from one loop over a dict of ``send``
callables, awaiting each ``send`` as an ASGI application must. Nothing is stored: the ids are a counter.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any
from urllib.parse import parse_qs

from django.utils import timezone

# user id -> the ASGI send of that user's socket
sockets: dict[int, Any] = {}
_loop: asyncio.AbstractEventLoop | None = None
_ids = itertools.count(1)
_tasks: set[asyncio.Task[None]] = set()
HEARTBEAT_ACK = '{"type":"heartbeat_ack"}'


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept the socket, register it under the user of ``?user=``, answer heartbeats until it closes."""
    global _loop
    _loop = asyncio.get_running_loop()
    user_id = int(parse_qs(scope["query_string"].decode())["user"][0])
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    sockets[user_id] = send
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": HEARTBEAT_ACK})
    finally:
        if sockets.get(user_id) is send:
            del sockets[user_id]


def _tail(title: str, message: str) -> str:
    """Return what follows the id in a notification frame: the same fields django-live-notify sends."""
    payload = {
        "title": title,
        "message": message,
        "notification_type": "service_request",
        "created_at": timezone.now().isoformat(),
        "is_read": False,
        "url": "/requests/1/",
        "sender": None,
        "target": None,
        "data": {},
        "group_key": "",
        "group_count": 1,
        "actions": [],
        "is_seen": False,
        "is_archived": False,
        "snoozed_until": None,
        "outcome": None,
    }
    return "," + json.dumps(payload, separators=(",", ":"))[1:] + "}"


async def _write(targets: list[tuple[Any, int]], tail: str) -> None:
    for send, notification_id in targets:
        try:
            await send({"type": "websocket.send", "text": '{"type":"notification","notification":{"id":'
                        + str(notification_id) + tail})  # fmt: skip
            await send({"type": "websocket.send", "text": '{"type":"unread_count","count":1}'})
        except Exception:
            pass  # the socket closed meanwhile


def _schedule(targets: list[tuple[Any, int]], tail: str) -> None:
    task = asyncio.get_running_loop().create_task(_write(targets, tail))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def notify(user_id: int, title: str, message: str) -> int:
    """Write one notification to ``user_id``'s socket from the server's loop; return its id (from a thread)."""
    notification_id = next(_ids)
    send = sockets.get(user_id)
    if send is not None and _loop is not None:
        _loop.call_soon_threadsafe(_schedule, [(send, notification_id)], _tail(title, message))
    return notification_id


def broadcast(title: str, message: str) -> int:
    """Write one notification to every socket from the server's loop, in one pass; return the count."""
    targets = [(send, next(_ids)) for send in list(sockets.values())]
    if targets and _loop is not None:
        _loop.call_soon_threadsafe(_schedule, targets, _tail(title, message))
    return len(targets)
