import uuid
from datetime import date, timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from . import charts, stats
from .models import ChannelPreference, Delivery, Notification, NotificationPreference, PushSubscription

# The analytics page's counts, with a context: "read" or "sent" alone are ambiguous to translators.
COUNT_LABELS = {
    "rows": pgettext_lazy("analytics: a count of notifications", "rows"),
    "sent": pgettext_lazy("analytics: a count of notifications", "sent"),
    "delivered": pgettext_lazy("analytics: a count of notifications", "delivered"),
    "delivered_on": pgettext_lazy("analytics: a count of notifications, on a delivery channel", "delivered (%s)"),
    "seen": pgettext_lazy("analytics: a count of notifications", "seen"),
    "clicked": pgettext_lazy("analytics: a count of notifications", "clicked"),
    "read": pgettext_lazy("analytics: a count of notifications", "read"),
}


class ReadFilter(admin.SimpleListFilter):
    title = _("read state")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", pgettext_lazy("read state", "Unread")), ("yes", pgettext_lazy("read state", "Read"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "recipient", "notification_type", "group_count", "created", "read_at"]
    list_filter = [ReadFilter, "notification_type", "silent", "created"]
    search_fields = ["title", "message", "group_key", "recipient__username", "recipient__email"]
    raw_id_fields = ["recipient", "sender"]
    date_hierarchy = "created"
    list_select_related = ["recipient"]
    readonly_fields = ["created", "modified", "delivered_at", "clicked_at", "acted_at", "timeline"]
    actions = ["mark_read"]
    change_list_template = "admin/django_live_notify/notification/change_list.html"

    @admin.display(description=_("timeline"))
    def timeline(self, notification):
        if notification.pk is None:
            return "-"
        url = reverse("admin:django_live_notify_notification_analytics")
        return format_html('<a href="{}?notification={}">{}</a>', url, notification.pk, _("Show the timeline"))

    def get_urls(self):
        analytics = self.admin_site.admin_view(self.analytics_view)
        return [path("analytics/", analytics, name="django_live_notify_notification_analytics"), *super().get_urls()]

    def analytics_view(self, request):
        """Draw the aggregates of a date range, one notification's timeline and one broadcast's funnel."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        errors = []
        today = timezone.now().date()
        until = _day(request.GET.get("until"), today, errors, "until")
        since = _day(request.GET.get("since"), until - timedelta(days=13), errors, "since")
        if since > until or (until - since).days > 92:
            errors.append(_("Choose a range of at most 93 days, since before until."))
            since, until = until - timedelta(days=13), until
        notification_type = request.GET.get("type") or None
        days = stats.daily(since, until, notification_type, by_type=False)
        by_type = stats.daily(since, until, notification_type)
        labels = [entry.day.strftime("%m-%d") for entry in days]
        channels = stats.channels_of(days)
        counts_chart = charts.bar_chart(
            _("Notifications per day"),
            labels,
            [
                (COUNT_LABELS["sent"], [entry.sent for entry in days]),
                *[
                    (COUNT_LABELS["delivered_on"] % channel, [entry.delivered.get(channel, 0) for entry in days])
                    for channel in channels
                ],
                (COUNT_LABELS["seen"], [entry.seen for entry in days]),
                (COUNT_LABELS["clicked"], [entry.clicked for entry in days]),
                (COUNT_LABELS["read"], [entry.read for entry in days]),
            ],
        )
        latency_chart = charts.bar_chart(
            _("Seconds from creation to delivery"),
            labels,
            [("p50", [entry.delivery_p50 for entry in days]), ("p95", [entry.delivery_p95 for entry in days])],
        )
        timeline = funnel = notification = broadcast_id = None
        notification_id = request.GET.get("notification", "").strip()
        if notification_id:
            notification = (
                Notification.objects.filter(pk=notification_id).first() if notification_id.isdigit() else None
            )
            if notification is None:
                errors.append(_("No notification %s.") % notification_id)
            else:
                timeline = charts.timeline_chart(_("Timeline"), stats.timeline(notification, translated=True))
        broadcast_text = request.GET.get("broadcast", "").strip()
        if broadcast_text:
            try:
                broadcast_id = uuid.UUID(broadcast_text)
            except ValueError:
                errors.append(_("%s is not a broadcast id (a UUID).") % broadcast_text)
            else:
                steps = stats.funnel(broadcast_id)
                funnel = charts.funnel_chart(
                    _("Broadcast %s") % broadcast_id,
                    [
                        (COUNT_LABELS["rows"], steps["rows"]),
                        (COUNT_LABELS["delivered"], steps["delivered"]),
                        (COUNT_LABELS["seen"], steps["seen"]),
                        (COUNT_LABELS["read"], steps["read"]),
                    ],
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Notification analytics"),
            "since": since,
            "until": until,
            "notification_type": notification_type or "",
            "rows": [(entry, [entry.delivered.get(channel, 0) for channel in channels]) for entry in by_type],
            "channels": channels,
            "counts_chart": counts_chart,
            "latency_chart": latency_chart,
            "notification": notification,
            "notification_id": notification_id,
            "timeline": timeline,
            "broadcast": broadcast_text,
            "funnel": funnel,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/django_live_notify/analytics.html", context)

    @admin.action(description=_("Mark selected notifications read"))
    def mark_read(self, request, queryset):
        changed = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(
            request,
            ngettext("%d notification marked read.", "%d notifications marked read.", changed) % changed,
        )


def _day(value, default: date, errors: list, name: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(_("%(name)s: %(value)s is not a date (YYYY-MM-DD).") % {"name": name, "value": value})
        return default


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "notification_type", "delivery"]
    list_filter = ["delivery", "notification_type"]
    search_fields = ["user__username", "user__email", "notification_type"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "notification_type", "channel", "enabled"]
    list_filter = ["channel", "enabled", "notification_type"]
    search_fields = ["user__username", "user__email", "notification_type"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Show what the delivery worker did; read only, since the worker owns these records."""

    list_display = ["notification_id", "recipient", "channel", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["channel", "status"]
    search_fields = ["recipient__username", "recipient__email", "last_error"]
    list_select_related = ["recipient"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "endpoint", "user_agent", "created_at", "last_success_at", "failure_count"]
    list_filter = ["created_at", "last_success_at"]
    search_fields = ["user__username", "user__email", "endpoint", "user_agent"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
    readonly_fields = ["endpoint", "p256dh", "auth", "created_at", "last_success_at", "failure_count"]
