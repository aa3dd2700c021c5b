"""Frames, close codes and channel-layer names of protocol v1 (see docs/protocol.rst)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from .conf import live_settings

CLOSE_UNAUTHENTICATED = 4001
CLOSE_IDLE = 4002
CLOSE_CREDENTIALS_CHANGED = 4003
CLOSE_TOO_MANY_CONNECTIONS = 4005
# The socket fell behind: more than MAX_PENDING_FRAMES frames unsent, or a write pending longer than WRITE_TIMEOUT.
CLOSE_TOO_SLOW = 4010
CLOSE_POLICY_VIOLATION = 1008
CLOSE_POLICY_VIOLATION_DAPHNE = 4008
CLOSE_TOO_BIG = 1009
CLOSE_TOO_BIG_DAPHNE = 4009
CLOSE_SERVICE_RESTART = 1012
CLOSE_SERVICE_RESTART_DAPHNE = 4012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TRY_AGAIN_LATER_DAPHNE = 4013
# daphne refuses application close codes below 3000 other than 1000: what to send there instead.
DAPHNE_CLOSE_CODES = {
    CLOSE_POLICY_VIOLATION: CLOSE_POLICY_VIOLATION_DAPHNE,
    CLOSE_TOO_BIG: CLOSE_TOO_BIG_DAPHNE,
    CLOSE_SERVICE_RESTART: CLOSE_SERVICE_RESTART_DAPHNE,
    CLOSE_TRY_AGAIN_LATER: CLOSE_TRY_AGAIN_LATER_DAPHNE,
}


def user_key(user_or_pk: Any) -> str:
    """Return the registry key of a user or a user's primary key."""
    return str(getattr(user_or_pk, "pk", user_or_pk))


def group_name(suffix: str) -> str:
    """Return a channel-layer group name of this app (only the characters groups allow)."""
    return re.sub(r"[^\w.\-]", "_", f"{live_settings.group_prefix}.{suffix}")[:99]


def user_group(key: str) -> str:
    return group_name(f"user.{key}")


def everyone_group() -> str:
    return group_name("all")


HEARTBEAT_ACK = '{"type":"heartbeat_ack"}'
READ_ALL = '{"type":"read","all":true}'
NOTIFICATION_HEAD = '{"type":"notification","notification":{"id":'
UPDATE_HEAD = '{"type":"update","notification":{"id":'


def encode(frame: Any) -> str:
    """Return ``frame`` as compact JSON text."""
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def notification_frame(payload: dict[str, Any]) -> str:
    return encode({"type": "notification", "notification": payload})


def update_frame(payload: dict[str, Any]) -> str:
    return encode({"type": "update", "notification": payload})


def notification_tail(shared_payload: dict[str, Any]) -> str | list[str]:
    """Return what follows the id in a notification frame, encoded once for every recipient.

    ``NOTIFICATION_HEAD + str(id) + tail`` is the frame of one recipient's row.
    When an action URL holds the id too (an :class:`~django_live_notify.actions.IdUrl`),
    the tail is a list of parts and the frame is ``NOTIFICATION_HEAD + id + id.join(parts)``.
    """
    from .actions import IdUrl

    actions = shared_payload.get("actions") or []
    if not any(isinstance(action.get("url"), IdUrl) for action in actions):
        return "," + encode(shared_payload)[1:] + "}"
    rest = {key: value for key, value in shared_payload.items() if key != "actions"}
    parts = ["," + encode(rest)[1:-1] + ',"actions":[']
    for index, action in enumerate(actions):
        if index:
            parts[-1] += ","
        url = action["url"]
        if not isinstance(url, IdUrl):
            parts[-1] += encode(action)
            continue
        fields = {key: value for key, value in action.items() if key != "url"}
        # '{"label":...,"url":"/notifications/' + id + '/actions/accept/"}'
        parts[-1] += encode(fields)[:-1] + ',"url":' + encode(url.prefix)[:-1]
        parts.append(encode(url.suffix)[1:] + "}")
    parts[-1] += "]}}"
    return parts


def tail_for(tail: str | list[str], notification_id: str) -> str:
    """Return the tail of one row: ``tail`` itself, or its parts joined with the row's id."""
    return tail if isinstance(tail, str) else notification_id.join(tail)


def unread_count_frame(count: int) -> str:
    return f'{{"type":"unread_count","count":{int(count)}}}'


def read_frame(ids: list[int]) -> str:
    return encode({"type": "read", "ids": ids})


def unread_frame(ids: list[int]) -> str:
    return encode({"type": "unread", "ids": ids})


def resumed_frame(count: int, complete: bool) -> str:
    return encode({"type": "resumed", "count": count, "complete": complete})


def error_frame(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})
