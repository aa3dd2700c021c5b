"""The original design's three helpers, kept so that code written against them keeps working."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import models

from . import protocol, publish, storing
from .api_types import JSONDict, User, UserId
from .sending import broadcast, notify

__all__ = ["broadcast_system_notification", "create_and_send_notification", "send_notification_to_user"]


def create_and_send_notification(
    user: User,
    notification_type: str,
    title: str,
    message: str,
    sender: User | None = None,
    related_object_id: int | str | uuid.UUID | None = None,
    related_object_type: str | None = None,
) -> int | None:
    """Store and send one notification; return its id. Kept for code written against the original helpers."""
    data: JSONDict = {}
    if related_object_id is not None:
        data["related_object_id"] = related_object_id
    if related_object_type is not None:
        data["related_object_type"] = related_object_type
    notification = notify(
        user, title=title, message=message, notification_type=notification_type, sender=sender, data=data
    )
    # None: the user turned this type off.
    return notification.pk if notification is not None else None  # type: ignore[union-attr]


def send_notification_to_user(user_id: User | UserId, notification_data: JSONDict) -> None:
    """Push a notification dict to a user's open sockets now, storing nothing."""
    user_id = (
        storing.user_pk(user_id, "user_id")
        if isinstance(user_id, models.Model)
        else storing.user_id_of(user_id, "user_id")
    )
    frame = protocol.notification_frame(notification_data)
    publish.publish(publish.frames_message([(protocol.user_key(user_id), [frame])]))


def broadcast_system_notification(title: str, message: str, user_ids: Iterable[User | UserId] | None = None) -> int:
    """Broadcast a "system" notification to all active users or to ``user_ids``; return the count."""
    users = None
    if isinstance(user_ids, models.QuerySet):
        storing.check_user_queryset(user_ids, "user_ids")
        users = get_user_model().objects.filter(pk__in=user_ids.values("pk")).order_by("pk")
    elif user_ids is not None:
        if isinstance(user_ids, (str, bytes, models.Model)) or not isinstance(user_ids, Iterable):
            raise TypeError(f"user_ids must be an iterable of user ids or users, not {storing.describe(user_ids)}")
        ids = [
            storing.user_pk(user_id, "user_ids")
            if isinstance(user_id, models.Model)
            else storing.user_id_of(user_id, "user_ids")
            for user_id in user_ids
        ]
        users = get_user_model().objects.filter(pk__in=ids).order_by("pk")
    return broadcast(title=title, message=message, notification_type="system", users=users)
