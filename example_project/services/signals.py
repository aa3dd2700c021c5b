"""The three notifications of the demo, as plain post_save receivers (connected in apps.py).

Each one only calls ``notify()``: the row is stored at once and pushed to the
recipient's open tabs when the surrounding transaction commits.
"""

from typing import Any

from django_live_notify import notify

MESSAGE_PREVIEW_LENGTH = 50


def notify_new_service_request(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Tell the provider that a customer asked them for a job."""
    if not created or raw or instance.provider_id is None:
        return
    customer = instance.customer
    notify(
        instance.provider,
        notification_type="service_request",
        title="New service request",
        message=f"{customer} asked for: {instance.title}",
        sender=customer,
        target=instance,
        url=instance.get_absolute_url(),
    )


def notify_order_status_change(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Tell the customer that their order was placed or moved to another status."""
    # The tracker still holds the status as loaded: it is reset after post_save.
    if raw or not (created or instance.tracker.has_changed("status")):
        return
    provider = instance.service_request.provider
    request_title = instance.service_request.title
    if created:
        title = "Request accepted"
        message = f"{provider} accepted “{request_title}”: your order is {instance.get_status_display().lower()}."
    else:
        title = "Order updated"
        message = f"Your order “{request_title}” is now {instance.get_status_display().lower()}."
    notify(
        instance.customer,
        notification_type="order",
        title=title,
        message=message,
        sender=provider,
        target=instance,
        url=instance.get_absolute_url(),
    )


def notify_new_message(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Tell the other participant of the chat about a new message."""
    if not created or raw:
        return
    chat = instance.chat
    recipient = chat.other_participant(instance.sender)
    preview = instance.content
    if len(preview) > MESSAGE_PREVIEW_LENGTH:
        preview = preview[:MESSAGE_PREVIEW_LENGTH].rstrip() + "…"
    notify(
        recipient,
        notification_type="message",
        title="New message",
        message=f"{instance.sender}: {preview}",
        sender=instance.sender,
        target=chat,
        url=chat.get_absolute_url(),
    )
