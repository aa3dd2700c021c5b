"""The demo's notification action: "Accept" on a new service request (imported by ServicesConfig.ready()).

The rule in rules.py puts the button on the provider's notification. Clicking
it, in the toast or on the history page, posts to django-live-notify's action
endpoint, which finds the provider's own notification (another user's answers
404), runs this handler and marks the notification read.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from django_live_notify.actions import action

from .models import ServiceRequest


@action("accept_request")
def accept_request(request, notification):
    """Accept the service request the notification is about, as the view's Accept button does."""
    target_type = notification.target_content_type
    if target_type is None or target_type.model_class() is not ServiceRequest:
        raise PermissionDenied("This notification is not about a service request.")
    # The endpoint runs this in a transaction: the row stays locked until the notification is marked read.
    service_request = get_object_or_404(
        ServiceRequest.objects.select_for_update(), pk=notification.target_object_id, provider=request.user
    )
    accepted = service_request.accept()
    return {"accepted": accepted, "status": service_request.status, "url": service_request.get_absolute_url()}
