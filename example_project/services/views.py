"""Pages of the demo. Every change is a POST; the notifications come from the rules in rules.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from django_live_notify import broadcast
from django_live_notify.models import display_name

from .forms import BroadcastForm, MessageForm, OrderStatusForm, ServiceRequestForm
from .models import Chat, Order, ServiceRequest, is_provider

# The request moves along with its order.
REQUEST_STATUS_FOR_ORDER = {
    Order.Status.PLACED: ServiceRequest.Status.ACCEPTED,
    Order.Status.SCHEDULED: ServiceRequest.Status.IN_PROGRESS,
    Order.Status.COMPLETED: ServiceRequest.Status.DONE,
}


def _chats_of(user):
    return (
        Chat.objects.filter(Q(customer=user) | Q(professional=user))
        .select_related("customer", "professional")
        .order_by("-created")
    )


def _redirect_back(request, default):
    """Redirect to the page the form was posted from, if it is on this site."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def _render_dashboard(request, request_form=None, broadcast_form=None, status=200):
    user = request.user
    provider = is_provider(user)
    context = {
        "is_provider": provider,
        "chats": _chats_of(user),
        "order_statuses": Order.Status.choices,
    }
    if provider:
        context["incoming_requests"] = ServiceRequest.objects.filter(provider=user).select_related("customer", "order")
    else:
        context["request_form"] = request_form or ServiceRequestForm(customer=user)
        context["my_requests"] = ServiceRequest.objects.filter(customer=user).select_related("provider", "order")
    if user.is_staff:
        context["broadcast_form"] = broadcast_form or BroadcastForm()
    return render(request, "services/dashboard.html", context, status=status)


@login_required
def dashboard(request):
    return _render_dashboard(request)


@login_required
@require_POST
def request_create(request):
    """Create a service request; a rule notifies the chosen provider."""
    if is_provider(request.user):
        raise PermissionDenied("Providers take requests; they do not make them in this demo.")
    form = ServiceRequestForm(request.POST, customer=request.user)
    if not form.is_valid():
        return _render_dashboard(request, request_form=form, status=400)
    service_request = form.save(commit=False)
    service_request.customer = request.user
    service_request.save()
    messages.success(request, f"Request sent to {service_request.provider}. They were notified live.")
    return redirect("services:dashboard")


@login_required
def request_detail(request, pk):
    user = request.user
    service_request = get_object_or_404(
        ServiceRequest.objects.select_related("customer", "provider", "order"),
        Q(customer=user) | Q(provider=user),
        pk=pk,
    )
    order = getattr(service_request, "order", None)
    context = {
        "service_request": service_request,
        "order": order,
        "is_request_provider": service_request.provider_id == user.pk,
        "order_statuses": Order.Status.choices,
    }
    return render(request, "services/request_detail.html", context)


@login_required
@require_POST
def request_accept(request, pk):
    """Accept a pending request: it becomes an order the customer can follow."""
    with transaction.atomic():
        service_request = get_object_or_404(ServiceRequest.objects.select_for_update(), pk=pk, provider=request.user)
        if not service_request.accept():
            messages.info(request, "This request was already accepted.")
        else:
            messages.success(
                request, f"Accepted “{service_request.title}”. Move the order along to notify the customer."
            )
    return _redirect_back(request, service_request.get_absolute_url())


@login_required
@require_POST
def order_update_status(request, pk):
    """Move an order to another status; a rule notifies the customer."""
    order = get_object_or_404(
        Order.objects.select_related("service_request"), pk=pk, service_request__provider=request.user
    )
    form = OrderStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown order status.")
    elif form.cleaned_data["status"] == order.status:
        messages.info(request, f"The order is already {order.get_status_display().lower()}.")
    else:
        with transaction.atomic():
            order.status = form.cleaned_data["status"]
            order.save()
            request_status = REQUEST_STATUS_FOR_ORDER.get(order.status)
            if request_status is not None:
                ServiceRequest.objects.filter(pk=order.service_request_id).update(status=request_status)
        messages.success(
            request, f"Order is now {order.get_status_display().lower()}; {display_name(order.customer)} was notified."
        )
    return _redirect_back(request, order.get_absolute_url())


@login_required
@require_POST
def chat_start(request, pk):
    """Open (or reopen) the chat between the customer and the provider of a request."""
    user = request.user
    service_request = get_object_or_404(
        ServiceRequest.objects.filter(provider__isnull=False), Q(customer=user) | Q(provider=user), pk=pk
    )
    chat, _created = Chat.objects.get_or_create(
        customer=service_request.customer, professional=service_request.provider
    )
    return redirect(chat)


@login_required
def chat_detail(request, pk):
    user = request.user
    chat = get_object_or_404(
        Chat.objects.select_related("customer", "professional"), Q(customer=user) | Q(professional=user), pk=pk
    )
    form = MessageForm()
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid():
            message = form.save(commit=False)
            message.chat = chat
            message.sender = user
            message.save()
            return redirect(chat)
    context = {
        "chat": chat,
        "other": chat.other_participant(user),
        "chat_messages": chat.messages.select_related("sender"),
        "form": form,
    }
    return render(request, "services/chat.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def system_broadcast(request):
    """Send a "system" notification to every active user (staff only)."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can broadcast.")
    form = BroadcastForm(request.POST)
    if not form.is_valid():
        return _render_dashboard(request, broadcast_form=form, status=400)
    count = broadcast(
        title=form.cleaned_data["title"], message=form.cleaned_data["message"], notification_type="system"
    )
    messages.success(request, f"Broadcast sent to {count} users.")
    return redirect("services:dashboard")
