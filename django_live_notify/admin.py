from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ChannelPreference, Delivery, Notification, NotificationPreference


class ReadFilter(admin.SimpleListFilter):
    title = _("read state")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", _("Unread")), ("yes", _("Read"))]

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
    readonly_fields = ["created", "modified"]
    actions = ["mark_read"]

    @admin.action(description=_("Mark selected notifications read"))
    def mark_read(self, request, queryset):
        changed = queryset.filter(read_at__isnull=True).update(read_at=timezone.now())
        self.message_user(request, _("%d notification(s) marked read.") % changed)


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
