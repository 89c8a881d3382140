"""Channels and maintenance windows in the admin; the rules are on the models."""

from django.contrib import admin

from notifications.models import Channel, MaintenanceWindow


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "is_default", "projects", "services"]
    list_filter = ["kind", "enabled", "is_default"]
    search_fields = ["name"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["name", "starts_at", "ends_at", "crontab", "duration", "created_by"]
    search_fields = ["name"]
    readonly_fields = ["created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)
