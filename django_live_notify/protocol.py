"""Frames and close codes of protocol v1 (see docs/protocol.rst)."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

CLOSE_UNAUTHENTICATED = 4001
CLOSE_IDLE = 4002
CLOSE_CREDENTIALS_CHANGED = 4003
CLOSE_TOO_MANY_CONNECTIONS = 4005
CLOSE_TOO_BIG = 1009
CLOSE_TOO_BIG_DAPHNE = 4009
CLOSE_SERVICE_RESTART = 1012

HEARTBEAT_ACK = '{"type":"heartbeat_ack"}'
READ_ALL = '{"type":"read","all":true}'
NOTIFICATION_HEAD = '{"type":"notification","notification":{"id":'


def encode(frame: Any) -> str:
    """Return ``frame`` as compact JSON text."""
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def notification_frame(payload: dict[str, Any]) -> str:
    return encode({"type": "notification", "notification": payload})


def notification_tail(shared_payload: dict[str, Any]) -> str:
    """Return what follows the id in a notification frame, encoded once for every recipient.

    ``NOTIFICATION_HEAD + str(id) + tail`` is the frame of one recipient's row.
    """
    return "," + encode(shared_payload)[1:] + "}"


def unread_count_frame(count: int) -> str:
    return f'{{"type":"unread_count","count":{int(count)}}}'


def read_frame(ids: list[int]) -> str:
    return encode({"type": "read", "ids": ids})


def resumed_frame(count: int, complete: bool) -> str:
    return encode({"type": "resumed", "count": count, "complete": complete})


def error_frame(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})
