"""The baseline: a plain Channels consumer written the usual way, measured beside the app.

One channel-layer channel per socket joined to ``user_<id>`` on connect, one
``group_send`` per user to notify, and a broadcast that stores and sends user by
user. This is how hand-written Channels notifications usually work; the benchmark runs it in
the same run, on the same server, database and layer, and prints every figure of
django-live-notify as a ratio to it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model

from django_live_notify.models import Notification

# Sockets this process holds (read by /bench/stats/).
open_sockets = 0


class BaselineConsumer(AsyncJsonWebsocketConsumer):
    """Serve one socket the usual way."""

    async def connect(self) -> None:
        global open_sockets
        self.user = self.scope["user"]
        if not self.user or not self.user.is_authenticated:
            await self.close(code=4001)
            return
        self.user_group_name = f"user_{self.user.id}"
        await self.channel_layer.group_add(self.user_group_name, self.channel_name)
        await self.accept()
        open_sockets += 1

    async def disconnect(self, close_code: int) -> None:
        global open_sockets
        if hasattr(self, "user_group_name"):
            await self.channel_layer.group_discard(self.user_group_name, self.channel_name)
            open_sockets -= 1

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        message_type = content.get("type")
        if message_type == "heartbeat":
            await self.send_json({"type": "heartbeat_ack"})
        elif message_type == "get_unread_count":
            await self.send_json({"type": "unread_count", "count": await self.unread_count()})

    async def unread_count(self) -> int:
        return await database_sync_to_async(
            Notification.objects.filter(recipient=self.user, read_at__isnull=True).count
        )()

    async def notification_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "notification", "notification": event["notification"]})


def send_notification_to_user(user_id: Any, notification_data: dict[str, Any]) -> None:
    """Send one notification dict to the user's group."""
    channel_layer = get_channel_layer()
    async_to_sync(channel_layer.group_send)(
        f"user_{user_id}", {"type": "notification_message", "notification": notification_data}
    )


def create_and_send_notification(user: Any, notification_type: str, title: str, message: str) -> int:
    """Store one row, then send it to the user's group; return its id."""
    notification = Notification.objects.create(
        recipient=user, notification_type=notification_type, title=title, message=message
    )
    send_notification_to_user(
        user.id,
        {
            "id": notification.id,
            "title": notification.title,
            "message": notification.message,
            "notification_type": notification.notification_type,
            "created_at": notification.created.isoformat(),
            "is_read": False,
        },
    )
    return notification.id


def broadcast_system_notification(title: str, message: str) -> int:
    """Store and send a notification to every active user, one user at a time; return the count."""
    count = 0
    for user in get_user_model().objects.filter(is_active=True):
        create_and_send_notification(user, "system", title, message)
        count += 1
    return count
