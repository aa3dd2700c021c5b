"""The three notifications of the demo, declared as rules (imported by ServicesConfig.ready()).

Each rule runs when its model event happens: the notification row is stored in
the same transaction as the change, and pushed to the recipient's open tabs
when that transaction commits.
"""

from django.utils.translation import gettext_lazy as _

from django_live_notify.rules import Rule, changed, register

from .models import Message, Order, ServiceRequest

MESSAGE_PREVIEW_LENGTH = 50

# A customer asked a provider for a job. A request without a provider notifies nobody.
# The "Accept" button runs the accept_request handler of actions.py, right from the toast.
register(
    ServiceRequest,
    on="created",
    recipients="provider",
    sender="customer",
    notification_type="service_request",
    title=_("New service request"),
    message=_("{sender.first_name} asked for: {instance.title}"),
    actions=[
        {
            "label": _("Accept"),
            "method": "POST",
            "name": "accept_request",
            "style": "primary",
            "outcome": _("Accepted"),
        }
    ],
)


class OrderRule(Rule):
    """What the order notifications share. Not registered itself."""

    model = Order
    recipients = "customer"
    sender = "service_request.provider"
    notification_type = "order"


@register
class OrderPlaced(OrderRule):
    """The provider accepted the request, which became an order."""

    on = "created"
    title = _("Request accepted")

    def message(self, order, event):
        return _("{provider} accepted “{request}”: your order is {status}.").format(
            provider=order.service_request.provider.first_name,
            request=order.service_request.title,
            status=order.get_status_display().lower(),
        )


@register
class OrderStatusChanged(OrderRule):
    """The provider moved the order along; Order.tracker tells the rule what changed."""

    on = changed("status")
    title = _("Order updated")

    def message(self, order, event):
        return _("Your order “{request}” is now {status}.").format(
            request=order.service_request.title, status=order.get_status_display().lower()
        )


def _preview(message, event):
    preview = message.content
    if len(preview) > MESSAGE_PREVIEW_LENGTH:
        preview = preview[:MESSAGE_PREVIEW_LENGTH].rstrip() + "…"
    return f"{message.sender.first_name}: {preview}"


# A chat message notifies the other participant; the notification is about (and links to) the chat.
# Messages of one chat fold into one unread notification: "3 new messages from Ana", updated in place.
register(
    Message,
    on="created",
    recipients=lambda message, event: message.chat.other_participant(message.sender),
    sender="sender",
    target="chat",
    notification_type="message",
    title=_("New message"),
    message=_preview,
    group_key="chat:{instance.chat_id}",
    group_title=_("{count} new messages from {sender.first_name}"),
)
