"""
Django admin for checks, tags and run history.

Checks: the list shows each check's last result in colour (passing, failing, or
unknown before its first run; "failing (1 of 3)" while failures have not yet reached
its alert threshold) and its number of open known bugs (the `buglist` the API gives:
bugs linked in admin or naming the check in their whiteboard), with filters by
project, tag, enabled and last result, and the actions run now (queued as
`audits.tasks.run_check`; disabled checks are skipped, as that task skips them),
enable, disable (a check's own schedule follows) and duplicate (`<name>-copy`, tags
and schedule too). It takes a fixed number of queries however many checks it shows.

The change page edits the module and its parameters one field per parameter of the
module's `run()` (see `audits.admin_forms` for how values are typed, validated as the
importer does, and what happens when the module changes). Parameters are shown as
stored, `${VAR}` placeholders unresolved: no page here ever resolves one. A check's
own schedule is edited as text (300, 5m, */5 * * * *) and synced to Celery beat's
database schedule on save, which beat picks up without a restart. Below: the known
bugs (confidential ones by id only) and the latest runs, read-only. People who may
only view checks see the parameter fields disabled.

Tags: each with its number of checks (one query), and an action that merges the
selected tags into the one picked on an intermediate page.
"""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import ngettext

from audits import history, tasks
from audits.admin_forms import CheckForm
from audits.models import AlertState, Check, CheckRun, Tag
from bugtracker.matching import buglists_for_checks
from foundation.admin_inlines import ReadOnlyInline, ReadOnlyInlineFormSet
from foundation.background import enqueue

HISTORY_ROWS = 20
DATA_PREVIEW_CHARACTERS = 200


# Tags.


class MergeTagsForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Tag.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        label="Keep",
        help_text="Its checks get the other tags' checks; the other tags are deleted.",
    )

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Tag.objects.filter(pk__in=[t.pk for t in tags])
        self.fields["target"].initial = tags[0].pk


def merge_tags(target: Tag, others: list[Tag]) -> int:
    """Give `target` every check of `others`, then delete them; the checks moved."""
    with transaction.atomic():
        check_ids = set(
            Check.objects.filter(tags__in=others).values_list("pk", flat=True)
        ) - set(target.checks.values_list("pk", flat=True))
        target.checks.add(*check_ids)
        if not target.description:
            target.description = next((t.description for t in others if t.description), "")
            target.save(update_fields=["description"])
        Tag.objects.filter(pk__in=[t.pk for t in others]).delete()
    return len(check_ids)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "check_count"]
    search_fields = ["name", "description"]
    actions = ["merge_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(check_count=Count("checks"))

    @admin.display(description="checks", ordering="check_count")
    def check_count(self, tag):
        url = reverse("admin:audits_check_changelist")
        return format_html('<a href="{}?tags__id__exact={}">{}</a>', url, tag.pk, tag.check_count)

    @admin.action(description="Merge selected tags into one", permissions=["change", "delete"])
    def merge_selected(self, request, queryset):
        tags = list(queryset.order_by("name"))
        if len(tags) < 2:
            self.message_user(request, "Select at least two tags to merge.", messages.WARNING)
            return None
        form = MergeTagsForm(request.POST if "merge" in request.POST else None, tags=tags)
        if form.is_valid():
            target = form.cleaned_data["target"]
            others = [t for t in tags if t.pk != target.pk]
            names = ", ".join(t.name for t in others)
            self.log_deletions(request, Tag.objects.filter(pk__in=[t.pk for t in others]))
            moved = merge_tags(target, others)
            self.log_change(request, target, f"Merged {names} into it ({moved} checks added).")
            got = ngettext("%d check got it.", "%d checks got it.", moved) % moved
            self.message_user(request, f"Merged {names} into {target.name}: {got}")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge tags",
            "subtitle": None,
            "opts": self.model._meta,
            "tags": tags,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/audits/tag/merge_tags.html", context)


# Checks.


class LastResultFilter(admin.SimpleListFilter):
    title = "last result"
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [("passing", "passing"), ("failing", "failing"), ("unknown", "unknown")]

    def queryset(self, request, queryset):
        values = {"passing": True, "failing": False, "unknown": None}
        if self.value() not in values:
            return queryset
        if self.value() == "unknown":
            return queryset.filter(last_success__isnull=True)
        return queryset.filter(last_success=values[self.value()])


class LatestRunsFormSet(ReadOnlyInlineFormSet):
    limit = HISTORY_ROWS


class CheckRunInline(ReadOnlyInline):
    model = CheckRun
    formset = LatestRunsFormSet
    verbose_name = "run"
    verbose_name_plural = f"latest {HISTORY_ROWS} runs"
    fields = ["started_at", "outcome", "duration_ms", "scalar", "data_preview"]
    readonly_fields = fields

    @admin.display(description="result")
    def outcome(self, run):
        state = "crashed" if run.crashed else ("passing" if run.success else "failing")
        return format_html('<span class="check-result check-result-{}">{}</span>', state, state)

    @admin.display(description="duration (ms)")
    def duration_ms(self, run):
        return run.duration

    @admin.display(description="data")
    def data_preview(self, run):
        text = json.dumps(run.data, ensure_ascii=False)
        return Truncator(text).chars(DATA_PREVIEW_CHARACTERS)


class CheckChangeList(ChangeList):
    """The page of checks, with their known bugs (one query for the whole page)."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        buglists = buglists_for_checks(self.result_list)
        for check in self.result_list:
            check.buglist = buglists[check.pk]


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    form = CheckForm
    list_display = [
        "project", "name", "tag_list", "enabled", "ttl_display", "last_result", "last_run_at",
        "open_bugs",
    ]
    list_display_links = ["project", "name"]
    list_filter = ["project", "tags", "enabled", LastResultFilter, "alert_state"]
    search_fields = ["project", "name", "description", "module", "tags__name"]
    filter_horizontal = ["tags", "depends_on"]
    actions = ["run_now", "enable", "disable", "duplicate"]
    readonly_fields = [
        "alert_state", "consecutive_failures", "last_run_at", "last_success",
        "next_refresh_at", "periodic_task", "uptime", "all_runs", "bug_table",
    ]
    # The parameters are a fieldset of their own, after the first one: see
    # templates/admin/audits/check/change_form.html and CheckForm.params_fieldset.
    fieldsets = [
        (None, {"fields": ["project", "name", "description", "module", "enabled", "tags"]}),
        (
            "Results and schedule",
            {"fields": ["ttl", "schedule", "failure_threshold", "plot", "position"]},
        ),
        ("Dependencies", {"fields": ["depends_on"]}),
        ("Known bugs", {"fields": ["bug_table"]}),
        (
            "State",
            {
                "fields": [
                    "alert_state", "consecutive_failures", "last_success", "last_run_at",
                    "next_refresh_at", "periodic_task", "uptime", "all_runs",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    class Media:
        css = {"all": ["admin-audits/checks.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and not self.has_change_permission(request, obj):
            form = type(form.__name__, (form,), {"read_only": True})
        return form

    def get_changelist(self, request, **kwargs):
        return CheckChangeList

    def get_inlines(self, request, obj):
        return [CheckRunInline] if obj else []

    # Columns.

    @admin.display(description="tags")
    def tag_list(self, check):
        return ", ".join(check.tag_names())  # from the prefetched tags

    @admin.display(description="TTL", ordering="ttl")
    def ttl_display(self, check):
        return f"{settings.DEFAULT_TTL} (default)" if check.ttl is None else check.ttl

    @admin.display(description="last result", ordering="last_success")
    def last_result(self, check):
        if check.last_success is None:
            state, text = "unknown", "unknown"
        elif check.last_success:
            state, text = "passing", "passing"
        elif check.alert_state == AlertState.FAILING:
            state, text = "failing", "failing"
        else:  # not yet as many failures in a row as the check's threshold
            state = "failing-quiet"
            text = f"failing ({check.consecutive_failures} of {check.failure_threshold})"
        return format_html('<span class="check-result check-result-{}">{}</span>', state, text)

    @admin.display(description="open bugs")
    def open_bugs(self, check):
        return sum(1 for bug in getattr(check, "buglist", ()) if bug["open"])

    @admin.display(description="known bugs")
    def bug_table(self, check):
        """The check's buglist, as the API gives it: linked here or by whiteboard."""
        if not check.pk:
            return "-"
        bugs = buglists_for_checks([check])[check.pk]
        links = format_html(
            '<p><a href="{}?checks__id__exact={}">Bugs linked to this check</a> · '
            '<a href="{}">Add a known bug</a></p>',
            reverse("admin:bugtracker_knownbug_changelist"), check.pk,
            reverse("admin:bugtracker_knownbug_add"),
        )
        if not bugs:
            return format_html("<p>None.</p>{}", links)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    format_html('<a href="{}" rel="noreferrer">{}</a>', bug["url"], bug["id"])
                    if bug["url"] else bug["id"],
                    bug["summary"] or "(no summary shown)",
                    bug["status"],
                    "open" if bug["open"] else "closed",
                    bug["last_update"] or "-",
                    bug["heat"],
                )
                for bug in bugs
            ),
        )
        return format_html(
            '<table class="known-bugs"><thead><tr><th>bug</th><th>summary</th><th>status</th>'
            "<th>open</th><th>last change</th><th>heat</th></tr></thead><tbody>{}</tbody></table>{}",
            rows, links,
        )

    @admin.display(description="uptime")
    def uptime(self, check):
        if not check.pk:
            return "-"
        values = history.uptime([check])
        return ", ".join(
            f"{window}: {'-' if value is None else f'{value:g} %'}"
            for window, value in values.items()
        )

    @admin.display(description="history")
    def all_runs(self, check):
        if not check.pk:
            return "-"
        url = reverse("admin:audits_checkrun_changelist")
        return format_html('<a href="{}?audit_check__id__exact={}">All runs</a>', url, check.pk)

    # Actions.

    @admin.action(description="Run selected checks now", permissions=["change"])
    def run_now(self, request, queryset):
        ids = list(queryset.filter(enabled=True).values_list("pk", flat=True))
        for pk in ids:
            enqueue(tasks.run_check, pk)
        self.message_user(
            request,
            ngettext("%d check queued to run.", "%d checks queued to run.", len(ids)) % len(ids),
        )
        disabled = queryset.filter(enabled=False).count()
        if disabled:
            self.message_user(
                request,
                ngettext(
                    "%d disabled check was not queued.",
                    "%d disabled checks were not queued.",
                    disabled,
                ) % disabled,
                messages.WARNING,
            )

    @admin.action(description="Enable selected checks", permissions=["change"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected checks", permissions=["change"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        changed = list(queryset.exclude(enabled=enabled).select_related("periodic_task"))
        for check in changed:
            check.enabled = enabled
            check.save(update_fields=["enabled", "updated"])  # its schedule follows
            self.log_change(request, check, "Enabled." if enabled else "Disabled.")
        word = "enabled" if enabled else "disabled"
        self.message_user(
            request,
            ngettext("%d check %s.", "%d checks %s.", len(changed)) % (len(changed), word),
        )

    @admin.action(description="Duplicate selected checks", permissions=["add"])
    def duplicate(self, request, queryset):
        copies = []
        with transaction.atomic():
            for check in queryset.prefetch_related("tags"):
                copy = duplicate_check(check)
                self.log_addition(request, copy, f"Duplicated from {check}.")
                copies.append(copy)
        self.message_user(
            request,
            ngettext("Duplicated %d check: %s.", "Duplicated %d checks: %s.", len(copies))
            % (len(copies), ", ".join(map(str, copies))),
        )


def duplicate_check(check: Check) -> Check:
    """A copy of `check` named `<name>-copy` (or -copy-2, ...), tags and schedule too."""
    copied = {
        field.name: getattr(check, field.name)
        for field in Check._meta.concrete_fields
        if field.editable and not field.primary_key
    }
    copy = Check(**{**copied, "name": _copy_name(check)})
    copy.save()
    copy.tags.set(check.tags.all())
    return copy


def _copy_name(check: Check) -> str:
    max_length = Check._meta.get_field("name").max_length
    number = 1
    while True:
        suffix = "-copy" if number == 1 else f"-copy-{number}"
        name = check.name[: max_length - len(suffix)] + suffix
        if not Check.objects.filter(project=check.project, name=name).exists():
            return name
        number += 1


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
