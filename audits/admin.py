"""
Django admin for checks, tags and run history.

Parameters are shown as stored, `${VAR}` placeholders unresolved. A check's own
schedule is edited here as text (300, 5m, */5 * * * *) and synced to Celery beat's
database schedule on save, which beat picks up without a restart.
"""

from django import forms
from django.contrib import admin

from . import schedules
from .models import Check, CheckRun, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


class CheckForm(forms.ModelForm):
    class Meta:
        model = Check
        fields = "__all__"

    def clean_schedule(self):
        value = self.cleaned_data["schedule"].strip()
        try:
            value and schedules.parse(value)
        except schedules.ScheduleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    form = CheckForm
    list_display = ["project", "name", "module", "ttl", "schedule", "alert_state", "last_run_at", "enabled"]
    list_filter = ["project", "enabled", "alert_state", "tags"]
    search_fields = ["project", "name", "description"]
    filter_horizontal = ["tags"]
    readonly_fields = [
        "alert_state", "consecutive_failures", "last_run_at", "last_success",
        "next_refresh_at", "periodic_task",
    ]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        schedules.sync(form.instance)


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    list_display = ["audit_check", "started_at", "success", "crashed", "duration", "scalar"]
    list_filter = ["success", "crashed", "audit_check__project"]
    date_hierarchy = "started_at"
    list_select_related = ["audit_check"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
