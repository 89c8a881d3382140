"""
Django admin for known bugs.

Bugzilla bugs come from the sync (`bugtracker.sync`): their tracker fields are read
only here, and only their links to checks and error groups, and the confidential
flag, can be edited. Bugs of any other tracker are added by hand (tracker
"manual") and work with no tracker configured.

Confidential bugs (in a Bugzilla group, or flagged here) show "(confidential)" in
place of their summary in the list, and searching summaries skips them, so that
the list never reveals them.
"""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.html import format_html

from bugtracker import sync
from bugtracker.models import KnownBug, Tracker

CONFIDENTIAL = "(confidential)"
SYNCED = [
    "tracker", "bug_id", "url", "summary", "status", "is_open", "last_change_time",
    "whiteboard",
]
SYNC_STATE = ["restricted", "missing_since", "synced_at"]


class ConfidentialFilter(admin.SimpleListFilter):
    title = "confidential"
    parameter_name = "confidential"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        confidential = Q(confidential=True) | Q(restricted=True)
        if self.value() == "yes":
            return queryset.filter(confidential)
        if self.value() == "no":
            return queryset.exclude(confidential)
        return queryset


class ShownFilter(admin.SimpleListFilter):
    title = "in the tracker's last answer"
    parameter_name = "returned"

    def lookups(self, request, model_admin):
        return [("yes", "Yes (or manual)"), ("no", "No: hidden from checks and errors")]

    def queryset(self, request, queryset):
        missing = Q(tracker=Tracker.BUGZILLA, missing_since__isnull=False)
        if self.value() == "yes":
            return queryset.exclude(missing)
        if self.value() == "no":
            return queryset.filter(missing)
        return queryset


@admin.register(KnownBug)
class KnownBugAdmin(admin.ModelAdmin):
    list_display = [
        "bug", "tracker", "summary_shown", "status", "is_open", "last_change_time",
        "heat_shown", "link",
    ]
    list_display_links = ["bug"]
    list_filter = ["tracker", "is_open", ConfidentialFilter, ShownFilter, "status"]
    search_fields = ["bug_id", "status", "whiteboard"]  # and summaries: see below
    autocomplete_fields = ["checks", "error_groups"]
    fieldsets = [
        (None, {"fields": [
            "tracker", "bug_id", "url", "summary", "status", "is_open", "last_change_time",
            "confidential",
        ]}),
        ("What it is about", {"fields": ["whiteboard", "checks", "error_groups"]}),
        ("Sync", {"fields": SYNC_STATE, "classes": ["collapse"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # "jira.example.com/X-1": https, not http
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.tracker == Tracker.BUGZILLA:
            return [*SYNCED, *SYNC_STATE]
        return ["tracker", *SYNC_STATE]  # what is added here is manual

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            by_summary = queryset.exclude(Q(confidential=True) | Q(restricted=True)).filter(
                summary__icontains=search_term.strip()
            )
            results = results | by_summary
        return results, duplicates

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            level, text = sync_message()
            self.message_user(request, text, level)
        return super().changelist_view(request, extra_context)

    @admin.display(description="bug", ordering="bug_id")
    def bug(self, obj):
        return obj.bug_id

    @admin.display(description="summary", ordering="summary")
    def summary_shown(self, obj):
        return CONFIDENTIAL if obj.is_confidential else obj.summary

    @admin.display(description="heat")
    def heat_shown(self, obj):
        return obj.heat()

    @admin.display(description="link")
    def link(self, obj):
        url = obj.get_url()
        if not url:
            return ""
        return format_html('<a href="{}" rel="noreferrer" target="_blank">open</a>', url)


def sync_message() -> tuple[int, str]:
    """The state of the Bugzilla sync, for the top of the list."""
    if not sync.enabled():
        return messages.INFO, "Bugzilla is off (empty BUGTRACKER_URL): only manual bugs are shown."
    state = sync.status()
    if not state:
        return messages.INFO, "Bugzilla: not synced yet (the list is synced every BUGTRACKER_TTL)."
    if state["ok"]:
        return messages.INFO, f"Bugzilla: {state['bugs']} bug(s) at the last sync, {state['at']}."
    since = state.get("last_success") or "never"
    return messages.WARNING, (
        f"Bugzilla sync failed at {state['at']}: {state['error']}. "
        f"The bugs of the last good sync ({since}) are kept."
    )
