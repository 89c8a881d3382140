"""
The dashboard's pages about checks: the overview, a check's details, the light
status feed the pages poll, and SVG badges.

Every page reads the state stored on the checks (`alert_state`, `last_success`,
`last_run_at`) and the history; none of them runs a check. A failing check whose
dependency fails too (`Check.blocked_by`) reads "blocked", with the chain of
failing checks that leads to the root cause ("by web/api → infra/dns"). The overview makes a
fixed number of queries however many checks there are (the checks, their tags, the
known bugs of the failing ones, plus the session and the user), and filters in
Python, so that the filters cost nothing more and the counts stay right.

Access (`foundation.access.dashboard_access`, the same for every app's pages):
staff users; anyone when PUBLIC_DASHBOARD is true, read-only (no refresh button).
Badges are public, like the JSON API they summarise, so that READMEs and wikis can
show them.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.text import slugify
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

from audits import history
from audits.dashboard import badges, diagram, history_chart, markup
from audits.models import AlertState, Check, CheckRun
from bugtracker.matching import buglists_for_checks
from foundation.access import dashboard_access
from foundation.templatetags.relative_time import ago

STATES = (AlertState.FAILING, AlertState.UNKNOWN, AlertState.PASSING)
# Shown in place of its state for a failing check whose dependency fails too.
BLOCKED = "blocked"
MIN_REFRESH, MAX_REFRESH = 5, 60


# --- What the pages show of each check ------------------------------------------------


@dataclass(slots=True)
class Row:
    pk: int
    project: str
    name: str
    state: str
    updated: object  # datetime or None
    ttl: int
    summary: str
    url: str
    crashed: bool = False
    tags: list = field(default_factory=list)
    chain: list = field(default_factory=list)  # keys of the failing parents, root last

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"

    @property
    def label(self) -> str:
        return shown_state(self.state, self.crashed)


def shown_state(state: str, crashed: bool) -> str:
    """What a check's state reads as: "crashed" when its last run crashed (a
    broken check, not a failing system), else its alert state ("blocked" too)."""
    return "crashed" if crashed and state != BLOCKED else state


def check_url(project: str, name: str) -> str:
    return reverse("dashboard-check", args=[project, name])


def _rows() -> list[Row]:
    """Every enabled check, by project then name, with its tags: two queries."""
    prefix = reverse("dashboard") + "checks/"
    values = (
        Check.objects.enabled()
        .order_by("project", "name")
        .values_list(
            "pk", "project", "name", "description", "alert_state", "last_run_at", "ttl",
            "last_crashed",
        )
    )
    rows, by_pk = [], {}
    for pk, project, name, description, state, updated, ttl, crashed in values:
        url = f"{prefix}{quote(project, safe='')}/{quote(name, safe='')}/"
        ttl = Check.ttl_or_default(ttl)
        summary = markup.summary(description)
        row = Row(pk, project, name, state, updated, ttl, summary, url, crashed)
        rows.append(row)
        by_pk[pk] = row
    pairs = (
        Check.tags.through.objects.filter(check__enabled=True)
        .order_by("tag__name")
        .values_list("check_id", "tag__name")
    )
    for check_id, tag in pairs:
        by_pk[check_id].tags.append(tag)
    for pk, chain in Check.objects.enabled().blocking_chains().items():
        by_pk[pk].state, by_pk[pk].chain = BLOCKED, [parent.key for parent in chain]
    return rows


def refresh_seconds(ttls) -> int:
    """How often pages poll: the smallest TTL, between 5 and 60 seconds."""
    smallest = min((t for t in ttls), default=MAX_REFRESH)
    return max(MIN_REFRESH, min(MAX_REFRESH, smallest))


def _counts(rows) -> dict:
    counts = {state: 0 for state in (*STATES, BLOCKED)}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    counts["total"] = len(rows)
    return counts


def _headline(counts: dict) -> tuple[str, str]:
    if counts["failing"]:
        n = counts["failing"]
        return "failing", f"The system has {n} failing check{'s' if n > 1 else ''}"
    if not counts["total"]:
        return "unknown", "There is no check yet"
    if counts["unknown"]:
        n = counts["unknown"]
        return "unknown", f"The system has {n} check{'s' if n > 1 else ''} without a result yet"
    return "passing", "The system is currently healthy"


@dataclass
class Filters:
    tags: list
    project: str
    status: str
    q: str

    @classmethod
    def from_query(cls, query) -> "Filters":
        tags = []
        for value in query.getlist("tags"):
            tags += [t.strip() for t in value.split(",") if t.strip()]
        status = query.get("status", "")
        return cls(
            tags=sorted(set(tags)),
            project=query.get("project", "").strip(),
            status=status if status in (*STATES, BLOCKED) else "",
            q=query.get("q", "").strip(),
        )

    @property
    def active(self) -> bool:
        return bool(self.tags or self.project or self.status or self.q)

    def keep(self, row: Row) -> bool:
        if self.project and row.project != self.project:
            return False
        if self.status and row.state != self.status:
            return False
        if self.tags and not set(self.tags) <= set(row.tags):
            return False
        if self.q and self.q.lower() not in row.key.lower():
            return False
        return True

    def query(self, **changes) -> str:
        """The query string of these filters with `changes` ("" clears one)."""
        values = {
            "tags": ",".join(self.tags), "project": self.project,
            "status": self.status, "q": self.q, **changes,
        }
        encoded = urlencode({k: v for k, v in values.items() if v}, safe=",/")
        return f"?{encoded}" if encoded else "?"


# --- Overview ---------------------------------------------------------------------------


@require_safe
@dashboard_access
@gzip_page
def overview(request):
    rows = _rows()
    filters = Filters.from_query(request.GET)
    counts = _counts(rows)
    state, headline = _headline(counts)
    failing = [row for row in rows if row.state == AlertState.FAILING]
    bugs = buglists_for_checks(failing) if failing else {}
    shown = [row for row in rows if filters.keep(row)] if filters.active else rows

    projects, by_project = [], {}
    for row in rows:
        by_project.setdefault(row.project, []).append(row)
    for name, members in by_project.items():
        visible = [row for row in members if not filters.active or filters.keep(row)]
        if not visible:
            continue
        project_state, message = badges.summarise(row.state for row in members)
        projects.append({
            "name": name,
            "slug": slugify(name) or "project",
            "state": project_state,
            "message": message,
            "counts": _counts(members),
            "rows": visible,
            "hidden": len(members) - len(visible),
            "badge": reverse("badge-project", args=[name]),
        })

    tag_counts = {}
    for row in rows:
        for tag in row.tags:
            tag_counts[tag] = tag_counts.get(tag, 0) + 1
    for tag in filters.tags:
        tag_counts.setdefault(tag, 0)  # a selected tag stays visible, to unselect it
    selected = set(filters.tags)
    tags = [
        {
            "name": tag,
            "count": tag_counts[tag],
            "selected": tag in selected,
            "href": filters.query(tags=",".join(sorted(selected ^ {tag}))),
        }
        for tag in sorted(tag_counts)
    ]
    last_updated = max((row.updated for row in rows if row.updated), default=None)
    context = {
        "section": "checks",
        "rows_total": len(rows),
        "shown_total": len(shown),
        "counts": counts,
        "headline_state": state,
        "headline": headline,
        "failing": [(row, bugs.get(row.pk, [])) for row in failing],
        "projects": projects,
        "project_names": list(by_project),
        "tags": tags,
        "filters": filters,
        "status_choices": [(s.value, s.label) for s in STATES] + [(BLOCKED, "Blocked")],
        "clear_url": filters.query(tags="", project="", status="", q=""),
        "last_updated": last_updated,
        "refresh": refresh_seconds(row.ttl for row in rows),
        "status_url": reverse("dashboard-status"),
        "diagram": _diagram(rows),
        "staff": request.can_change,
    }
    return render(request, "dashboard/overview.html", context)


def _diagram(rows) -> str | None:
    svg = diagram.load(settings.DIAGRAM_FILE)
    if svg is None:
        return None
    known = {(row.project, row.name): row for row in rows}

    def describe(project, name):
        row = known.get((project, name))
        if row is None:
            return None
        title = f"{row.key}: {row.state}" + (f"\n{row.summary}" if row.summary else "")
        return row.state, title, row.url

    return diagram.annotate(svg, describe)


# --- Status feed (polled by the pages) -----------------------------------------------


@require_safe
@dashboard_access(api=True)
@gzip_page
def status(request):
    """
    `{"refresh": s, "checks": {"project/name": {"state", "label", "updated",
    "blocked_by"}}}` of the enabled checks (`?check=project/name` or `?project=`
    for fewer), from the stored state; `label` is the state as shown ("crashed"
    for a crashed check); a blocked check's state is "blocked", and `blocked_by`
    lists its failing parents, root cause last.
    With an ETag, so that an unchanged answer is a 304.
    """
    checks = Check.objects.enabled()
    if "check" in request.GET:
        project, _, name = request.GET["check"].partition("/")
        checks = checks.filter(project=project, name=name)
    elif "project" in request.GET:
        checks = checks.filter(project=request.GET["project"])
    values = checks.order_by("project", "name").values_list(
        "pk", "project", "name", "alert_state", "last_run_at", "ttl", "last_crashed"
    )
    chains = Check.objects.enabled().blocking_chains()
    entries, ttls = {}, []
    for pk, project, name, state, updated, ttl, crashed in values:
        chain = [parent.key for parent in chains.get(pk, [])]
        state = BLOCKED if chain else state
        entries[f"{project}/{name}"] = {
            "state": state, "label": shown_state(state, crashed), "updated": _iso(updated),
            "blocked_by": chain,
        }
        ttls.append(Check.ttl_or_default(ttl))
    body = json.dumps(
        {"refresh": refresh_seconds(ttls), "checks": entries}, separators=(",", ":")
    ).encode()
    etag = '"%s"' % hashlib.blake2b(body, digest_size=16).hexdigest()
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return get_conditional_response(request, etag=etag, response=response)


def _iso(moment) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- A check's page ---------------------------------------------------------------------


@require_safe
@dashboard_access
def check_detail(request, project, name):
    check = get_object_or_404(
        Check.objects.enabled().prefetch_related("tags"), project=project, name=name
    )
    run = (
        CheckRun.objects.filter(audit_check=check)
        .order_by("-started_at")
        .only("started_at", "success", "crashed", "duration", "data", "scalar")
        .first()
    )
    span = request.GET.get("range", "7d")
    if span not in history_chart.RANGES:
        span = "7d"
    now = timezone.now()
    since = now - min(history_chart.RANGES[span], timedelta(days=settings.HISTORY_DAYS))
    points = history.series([check]).get(check.pk, [])
    if not points and check.last_run_at:  # no change kept: the state held all along
        points = [{
            "t": (min(check.last_run_at, since)).strftime("%Y-%m-%d %H:%M:%S"),
            "success": bool(check.last_success),
            "scalar": check.last_scalar,
        }]
    module_error = None
    try:
        documentation = check.check_module.documentation
    except Exception as exc:  # noqa: BLE001 - shown so that someone fixes it
        documentation, module_error = "", str(exc)
    tags = check.tag_names()
    ttl = check.get_ttl()
    chain = _linked(Check.objects.enabled().blocking_chains().get(check.pk, []))
    state = BLOCKED if chain else check.alert_state
    badge_url = request.build_absolute_uri(reverse("badge-check", args=[project, name]))
    page_url = request.build_absolute_uri(check_url(project, name))
    context = {
        "section": "checks",
        "check": check,
        "key": f"{project}/{name}",
        "state": state,
        "label": shown_state(state, check.last_crashed),
        "chain": chain,
        "parents": _linked(check.depends_on.order_by("project", "name")),
        "dependents": _linked(check.dependents.order_by("project", "name")),
        "run": run,
        "data": json.dumps(run.data, indent=2, ensure_ascii=False) if run else None,
        "updated_ago": ago(check.last_run_at, now) if check.last_run_at else None,
        "updated_iso": _iso(check.last_run_at),
        "description_html": markup.render(check.description),
        "documentation_html": markup.render(documentation),
        "module_error": module_error,
        "parameters": [
            (key, json.dumps(value, ensure_ascii=False))
            for key, value in check.exposed_parameters().items()
        ],
        "tags": [
            {"name": tag, "href": reverse("dashboard") + "?" + urlencode({"tags": tag})}
            for tag in tags
        ],
        "ttl": ttl,
        "refresh": refresh_seconds([ttl]),
        "bugs": buglists_for_checks([check])[check.pk],
        "uptime": history.uptime([check], now=now),
        "plot": history_chart.render(points, since, now),
        "range": span,
        "ranges": list(history_chart.RANGES),
        "plot_path": check.get_plot_path(),
        "troubleshooting": check.troubleshooting_url(),
        "api_url": check.get_absolute_url(),
        "history_url": reverse("audits:history", args=[project, name]),
        "runs_url": reverse("audits:runs", args=[project, name]),
        "status_url": reverse("dashboard-status") + "?" + urlencode({"check": f"{project}/{name}"}),
        "badge_url": reverse("badge-check", args=[project, name]),
        "badge_markdown": f"[![{project}/{name}]({badge_url})]({page_url})",
        "staff": request.can_change,
    }
    return render(request, "dashboard/check.html", context)


def _linked(checks) -> list[dict]:
    """Checks as the dependency lists of a check's page show them."""
    return [
        {"key": c.key, "url": check_url(c.project, c.name), "enabled": c.enabled,
         "label": shown_state(c.alert_state, c.last_crashed),
         "failing": c.last_success is False}
        for c in checks
    ]


# --- Badges -------------------------------------------------------------------------------


@require_safe
def badge_check(request, project, name):
    state = (
        Check.objects.enabled()
        .filter(project=project, name=name)
        .values_list("alert_state", flat=True)
        .first()
    )
    if state is None:
        return _badge(request, f"{project}/{name}", "not found", "unknown", status=404)
    return _badge(request, f"{project}/{name}", state, state)


@require_safe
def badge_project(request, project):
    states = list(
        Check.objects.enabled().filter(project=project).values_list("alert_state", flat=True)
    )
    if not states:
        return _badge(request, project, "not found", "unknown", status=404)
    return _badge(request, project, *reversed(badges.summarise(states)))


@require_safe
def badge_tag(request, tag):
    """`tag` or `a+b` (checks that have every tag, as the API's `/checks/tags/a+b`)."""
    names = [t for t in tag.split("+") if t]
    states = list(
        Check.objects.enabled().with_tags(names).values_list("alert_state", flat=True)
    ) if names else []
    if not states:
        return _badge(request, tag, "not found", "unknown", status=404)
    return _badge(request, tag, *reversed(badges.summarise(states)))


def _badge(request, label: str, message: str, state: str, status: int = 200):
    label = request.GET.get("label", label)[:100]
    svg = badges.render(label, message, state).encode()
    etag = '"%s"' % hashlib.blake2b(svg, digest_size=16).hexdigest()
    response = HttpResponse(svg, content_type="image/svg+xml", status=status)
    response["ETag"] = etag
    # Fresh for READMEs' image proxies, and inert if opened on its own.
    response["Cache-Control"] = "no-cache, max-age=0"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    if status == 200:
        return get_conditional_response(request, etag=etag, response=response)
    return response


@require_safe
def diagram_file(request):
    """Telescope's `/diagram.svg`: the system diagram as the operators drew it."""
    path = Path(settings.DIAGRAM_FILE)
    if not path.is_file():
        detail = f"No diagram: DIAGRAM_FILE {path} does not exist"
        return JsonResponse({"detail": detail}, status=404)
    return FileResponse(path.open("rb"), content_type="image/svg+xml")
