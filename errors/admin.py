"""
Django admin for the errors app.

* Services are edited here (or imported from config.toml); their request headers
  are shown as stored, `${VAR}` placeholders unresolved.
* Targets are what discovery found: read-only, replaced at each discovery.
* Error groups are aggregated data: only their status is edited, through the
  model's `resolve()`, `unresolve()` and `ignore(until)` (the list's actions, or the
  status and "ignored until" fields of a group's page), so that `resolved_at` and the
  regression flag stay right. A group's page shows its 20 newest occurrences.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from errors.models import ErrorGroup, GroupStatus, Occurrence, Service, Target
from foundation.admin_inlines import ReadOnlyInline, ReadOnlyInlineFormSet

NEWEST_OCCURRENCES = 20


class TargetInline(ReadOnlyInline):
    model = Target
    fields = ["address", "status", "last_scrape_at", "duration", "last_error", "labels"]
    readonly_fields = fields


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "name", "endpoint", "refresh_interval", "enabled", "last_scrape_at", "target_count",
    ]
    list_filter = ["enabled", "follow_redirects"]
    search_fields = ["name"]
    readonly_fields = [
        "last_scrape_at", "last_scrape_duration", "next_scrape_at", "scrape_failures",
        "last_discovery_errors",
    ]
    inlines = [TargetInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(target_count=Count("targets"))

    @admin.display(description="targets", ordering="target_count")
    def target_count(self, service):
        return service.target_count


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["address", "service", "status", "last_scrape_at", "duration", "last_error"]
    list_filter = ["service", "status"]
    search_fields = ["address", "target_uuid"]
    list_select_related = ["service"]
    fields = [
        "service", "address", "status", "last_scrape_at", "duration", "last_error", "labels",
        "target_uuid", "discovered_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NewestOccurrences(ReadOnlyInlineFormSet):
    """The group's newest occurrences only: a group keeps up to ERRORS_MAX_OCCURRENCES."""

    limit = NEWEST_OCCURRENCES
    ordering = ("-timestamp", "-pk")


class OccurrenceInline(ReadOnlyInline):
    model = Occurrence
    formset = NewestOccurrences
    verbose_name_plural = f"occurrences (the {NEWEST_OCCURRENCES} newest)"
    fields = ["timestamp", "uuid", "severity", "error_class", "message", "request", "trace"]
    readonly_fields = fields

    @admin.display(description="request")
    def request(self, occurrence):
        context = occurrence.http_context or {}
        return " ".join(filter(None, [context.get("request_method"), context.get("request_url")]))

    @admin.display(description="stack trace")
    def trace(self, occurrence):
        lines = occurrence.stacktrace or []
        return format_html("<pre>{}</pre>", "\n".join(str(line) for line in lines))


class ErrorGroupForm(forms.ModelForm):
    class Meta:
        model = ErrorGroup
        fields = ["status", "ignored_until"]

    def clean(self):
        data = super().clean()
        if data.get("ignored_until") and data.get("status") != GroupStatus.IGNORED:
            self.add_error(
                "ignored_until", "Only an ignored group has an end to its ignore period."
            )
        return data


@admin.register(ErrorGroup)
class ErrorGroupAdmin(admin.ModelAdmin):
    form = ErrorGroupForm
    list_display = [
        "aggregation_key", "service", "status", "severity", "total_count", "last_seen",
        "regression",
    ]
    list_filter = ["service", "status", "severity", "regression"]
    search_fields = ["aggregation_key", "error_class", "message"]
    list_select_related = ["service"]
    date_hierarchy = "last_seen"
    actions = ["resolve", "unresolve", "ignore"]
    fields = [
        "service", "aggregation_key", "status", "ignored_until", "resolved_at", "regression",
        "severity", "total_count", "first_seen", "last_seen", "error_class", "message",
    ]
    readonly_fields = [f for f in fields if f not in ("status", "ignored_until")]
    inlines = [OccurrenceInline]

    def has_add_permission(self, request):
        return False  # groups come from scrapes and pushes

    def save_model(self, request, group, form, change):
        """Status changes go through the model, which keeps its other fields right."""
        if group.status == GroupStatus.IGNORED:
            group.ignore(group.ignored_until)
        elif "status" not in form.changed_data:
            return
        elif group.status == GroupStatus.RESOLVED:
            group.resolve()
        else:
            group.unresolve()

    @admin.action(description="Resolve (hidden until it happens again)", permissions=["change"])
    def resolve(self, request, queryset):
        self._each(request, queryset, ErrorGroup.resolve, "resolved")

    @admin.action(description="Unresolve (active again)", permissions=["change"])
    def unresolve(self, request, queryset):
        self._each(request, queryset, ErrorGroup.unresolve, "active again")

    @admin.action(description="Ignore for good", permissions=["change"])
    def ignore(self, request, queryset):
        self._each(request, queryset, ErrorGroup.ignore, "ignored")

    def _each(self, request, queryset, method, done: str) -> None:
        groups = list(queryset)
        for group in groups:
            method(group)
        self.message_user(request, f"{len(groups)} group(s) {done}.", messages.SUCCESS)
