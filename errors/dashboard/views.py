"""
The errors' pages of the staff dashboard, under `/dashboard/errors/`.

* `errors-dashboard` (`/dashboard/errors/`): every service with its active error
  groups, their events, regressions and targets up, in one query;
* `errors-service` (`<service>/`): the service's error groups, filtered and sorted
  by the query string, so that every view of the list is a shareable URL:
  `q` (search in key, class and message), `severity`, `status` (`active`, the
  default, `resolved`, `ignored` or `all`), `sort` (`last_seen`, the default,
  `count` or `first_seen`), `order` (`desc`, the default, or `asc`) and `page`
  (50 groups a page);
* `errors-group` (`<service>/errors/<key>/`, the key percent-encoded, `/` as
  `%2F`, although a raw `/` works too): one group, its hourly chart over 7 days,
  its known bugs, and its stored occurrences one at a time, `?occurrence=N`
  (1 is the newest), credential headers masked and request bodies shown to
  staff only (unless ERRORS_PUBLIC_BODIES). A POST there with `action=resolve|unresolve|ignore`
  (and `ignore_for=<hours>`, empty for good) changes its status, for staff only;
* `errors-targets` (`<service>/targets/`): the instances found for the service and
  how their last scrape went.

Access (`foundation.access.dashboard_access`, the same for every app's pages):
staff only (anonymous people go to the login page, other users get the 403 page),
unless `PUBLIC_DASHBOARD` is on, which lets anyone read the pages without the
buttons. Changes always need a staff session and a CSRF token.
"""

import json
import shlex
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from bugtracker.matching import buglist_for_error_group
from errors.api.views import filter_groups
from errors.models import (
    ErrorGroup,
    GroupStatus,
    HourlyCount,
    Service,
    Target,
    TargetCount,
    TargetStatus,
    bodies_visible_to,
    status_condition,
)
from foundation.access import dashboard_access

PAGE_SIZE = 50
MAX_SEARCH = 200
CHART_HOURS = 7 * 24
SPARK_HOURS = 24
STATUSES = ("active", "resolved", "ignored", "all")
SORTS = {"last_seen": "last_seen", "count": "total_count", "first_seen": "first_seen"}
# Ignore for good (""), or for a while; the values are hours.
IGNORE_CHOICES = [("", "for good"), ("1", "for 1 hour"), ("24", "for 24 hours"),
                  ("168", "for 7 days"), ("720", "for 30 days")]
ACTIONS = ("resolve", "unresolve", "ignore")
# Headers curl works out by itself, and which would be wrong once the body is edited.
CURL_SKIPPED_HEADERS = {"content-length"}


def _context(request, **values) -> dict:
    return {"section": "errors", "can_change": request.can_change, **values}


# --- URLs ---------------------------------------------------------------------------


def group_url(service_name: str, key: str) -> str:
    """The group's page, every character of the key escaped, `/` included: a key
    such as `a/../b` must stay one path segment for browsers and proxies."""
    return f"{reverse('errors-service', args=[service_name])}errors/{quote(key, safe='')}/"


def _query(params: dict, **changes) -> str:
    """`?...` of `params` with `changes`, leaving out empty values."""
    merged = {**params, **changes}
    pairs = [(k, v) for k, v in merged.items() if v not in (None, "")]
    return "?" + urlencode(pairs) if pairs else "?"


# --- services -----------------------------------------------------------------------


def _target_count(**condition):
    rows = (
        Target.objects.filter(service=OuterRef("pk"), **condition)
        .order_by().values("service").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@require_http_methods(["GET", "HEAD"])
@dashboard_access
def services(request):
    """Every service with its active error groups, in one query."""
    active = status_condition(GroupStatus.ACTIVE, timezone.now(), prefix="groups__")
    rows = Service.objects.annotate(
        active_groups=Count("groups", filter=active),
        active_events=Coalesce(Sum("groups__total_count", filter=active), 0),
        regressions=Count("groups", filter=active & Q(groups__regression=True)),
        last_error_at=Max("groups__last_seen", filter=active),
        targets_total=_target_count(),
        targets_up=_target_count(status=TargetStatus.UP),
        targets_down=_target_count(status=TargetStatus.DOWN),
    )
    rows = list(rows)
    totals = {
        "services": len(rows),
        "with_errors": sum(1 for s in rows if s.active_groups),
        "active_groups": sum(s.active_groups for s in rows),
    }
    return render(request, "dashboard/errors/services.html",
                  _context(request, services=rows, totals=totals))


# --- one service's groups -----------------------------------------------------------


def _list_params(request) -> dict:
    """The list's query string, cleaned: unknown values fall back to the defaults."""
    get = request.GET
    status = get.get("status", "active")
    sort = get.get("sort", "last_seen")
    order = get.get("order", "desc")
    return {
        "q": get.get("q", "").strip()[:MAX_SEARCH],
        "severity": get.get("severity", "").strip(),
        "status": status if status in STATUSES else "active",
        "sort": sort if sort in SORTS else "last_seen",
        "order": order if order in ("asc", "desc") else "desc",
    }


def _status_counts(service, now) -> tuple[dict, list]:
    """Groups per status, and the severities the service has, in one query."""
    rows = (
        ErrorGroup.objects.filter(service=service).order_by().values("severity")
        .annotate(
            **{
                status: Count("pk", filter=status_condition(status, now))
                for status in GroupStatus.values
            },
            all=Count("pk"),
        )
    )
    counts = dict.fromkeys(STATUSES, 0)
    severities = []
    for row in rows:
        severities.append(row["severity"])
        for status in STATUSES:
            counts[status] += row[status]
    return counts, sorted(severities)


def _sparklines(groups, now) -> dict[int, str]:
    """An SVG path of bars per group: its occurrences per hour over the last day."""
    end = _hour(now) + timedelta(hours=1)
    start = end - timedelta(hours=SPARK_HOURS)
    buckets = {group.pk: [0] * SPARK_HOURS for group in groups}
    rows = HourlyCount.objects.filter(group__in=list(buckets), hour__gte=start, hour__lt=end)
    for group_id, hour, count in rows.values_list("group_id", "hour", "count"):
        buckets[group_id][_index(hour, start)] += count
    paths = {}
    for group_id, counts in buckets.items():
        top = max(counts) or 1
        bars = [
            f"M{i * 3} 20v-{max(1, round(19 * c / top))}h2v{max(1, round(19 * c / top))}z"
            for i, c in enumerate(counts) if c
        ]
        paths[group_id] = "".join(bars)
    return paths


@require_http_methods(["GET", "HEAD"])
@dashboard_access
def service_groups(request, service):
    service = get_object_or_404(Service, name=service)
    now = timezone.now()
    params = _list_params(request)
    status = None if params["status"] == "all" else params["status"]
    ordering = ("-" if params["order"] == "desc" else "") + SORTS[params["sort"]]
    groups = filter_groups(
        ErrorGroup.objects.filter(service=service), status=status,
        severity=params["severity"] or None, search=params["q"] or None,
        ordering=ordering, now=now,
    )
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    sparks = _sparklines(rows, now)
    for group in rows:
        group.url = group_url(service.name, group.aggregation_key)
        group.spark = sparks[group.pk]
        group.shown_status = group.effective_status(now)
    counts, severities = _status_counts(service, now)
    if params["severity"] and params["severity"] not in severities:
        severities.append(params["severity"])

    def sort_link(key):
        # Clicking the current column flips the order; another column starts descending.
        same = params["sort"] == key
        order = ("asc" if params["order"] == "desc" else "desc") if same else "desc"
        return {"url": _query(params, sort=key, order=order),
                "current": same, "order": params["order"] if same else ""}

    pages = None
    if page.paginator.num_pages > 1:
        pages = {
            "first": _query(params, page=1) if page.has_previous() else None,
            "prev": _query(params, page=page.previous_page_number()) if page.has_previous() else None,
            "next": _query(params, page=page.next_page_number()) if page.has_next() else None,
            "last": _query(params, page=page.paginator.num_pages) if page.has_next() else None,
        }
    context = _context(
        request,
        service=service,
        params=params,
        page=page,
        groups=rows,
        pages=pages,
        counts=counts,
        severities=severities,
        tabs=[{"status": s, "count": counts[s], "url": _query(params, status=s),
               "current": params["status"] == s} for s in STATUSES],
        sorts={key: sort_link(key) for key in SORTS},
        filtered=bool(params["q"] or params["severity"]),
        sort_choices=[("last_seen", "last seen"), ("count", "count"), ("first_seen", "first seen")],
        spark_hours=SPARK_HOURS,
    )
    return render(request, "dashboard/errors/service.html", context)


# --- one group ----------------------------------------------------------------------


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def _index(hour, start) -> int:
    return int((hour - start).total_seconds() // 3600)


def hourly_chart(group, now, hours=CHART_HOURS) -> dict:
    """Bars of the occurrences per hour over the last `hours`, laid out for SVG."""
    end = _hour(now) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    counts = [0] * hours
    rows = HourlyCount.objects.filter(group=group, hour__gte=start, hour__lt=end)
    for hour, count in rows.values_list("hour", "count"):
        counts[_index(hour, start)] += count
    bar, height, top = 6, 100, max(counts) or 1
    bars = []
    for i, count in enumerate(counts):
        if count:
            h = max(1.0, round(height * count / top, 1))
            moment = start + timedelta(hours=i)
            bars.append({"x": i * bar, "y": f"{height - h:g}", "height": f"{h:g}",
                         "count": count, "hour": moment})
    days = [
        {"x": i * bar, "label": (start + timedelta(hours=i)).strftime("%a %d")}
        for i in range(hours) if (start + timedelta(hours=i)).hour == 0
    ]
    return {"bars": bars, "days": days, "width": hours * bar, "height": height,
            "max": max(counts), "total": sum(counts), "start": start, "end": end,
            "hours": hours}


def curl_command(http: dict | None) -> str:
    """A curl command that replays the request, every word quoted for a POSIX shell."""
    if not http:
        return ""
    method = str(http.get("request_method") or "GET").upper()
    url = str(http.get("request_url") or "")
    headers = http.get("request_headers") or {}
    if not isinstance(headers, dict):
        headers = {}
    if url.startswith("/"):  # some clients send the path only
        lower = {str(k).lower(): str(v) for k, v in headers.items()}
        if lower.get("host"):
            scheme = "https" if lower.get("x-forwarded-proto") == "https" else "http"
            url = f"{scheme}://{lower['host']}{url}"
    first = ["curl"]
    if method != "GET":
        first.append(f"-X {shlex.quote(method)}")
    first.append(shlex.quote(url))
    words = [" ".join(first)]
    for name, value in headers.items():
        if str(name).lower() not in CURL_SKIPPED_HEADERS:
            words.append(f"-H {shlex.quote(f'{name}: {value}')}")
    body = http.get("request_body")
    if body not in (None, ""):
        if not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)
        words.append(f"--data-raw {shlex.quote(body)}")
    return " \\\n  ".join(words)


def _lines(stacktrace) -> str:
    if isinstance(stacktrace, list):
        return "\n".join(str(line) for line in stacktrace)
    return str(stacktrace or "")


def _occurrence_view(occurrence, with_bodies: bool) -> dict:
    # Credential headers masked, the body for staff only: Occurrence's rule.
    http = occurrence.shown_http_context(with_bodies)
    causes = occurrence.cause if isinstance(occurrence.cause, list) else []
    headers = (http or {}).get("request_headers") or {}
    return {
        "object": occurrence,
        "stacktrace": _lines(occurrence.stacktrace),
        "causes": [
            {"class": c.get("class", ""), "message": c.get("message", ""),
             "stacktrace": _lines(c.get("stacktrace"))}
            for c in causes if isinstance(c, dict)
        ],
        "http": http and {
            "method": http.get("request_method") or "",
            "url": http.get("request_url") or "",
            "headers": sorted(headers.items()) if isinstance(headers, dict) else [],
            "body": http.get("request_body") or "",
        },
        "curl": curl_command(http),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@dashboard_access
def group_detail(request, service, key):
    service = get_object_or_404(Service, name=service)
    group = get_object_or_404(ErrorGroup, service=service, aggregation_key=key)
    if request.method == "POST":
        return _change(request, group)
    now = timezone.now()
    occurrences = group.occurrences.order_by("-timestamp", "-pk")
    total = occurrences.count()
    try:
        index = int(request.GET.get("occurrence", 1))
    except ValueError:
        index = 1
    index = min(max(index, 1), total) if total else 0
    with_bodies = bodies_visible_to(request.user, session=True)
    occurrence = _occurrence_view(occurrences[index - 1], with_bodies) if total else None
    url = group_url(service.name, group.aggregation_key)
    context = _context(
        request,
        service=service,
        group=group,
        group_url=url,
        action_url=url + (f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""),
        shown_status=group.effective_status(now),
        known_bugs=buglist_for_error_group(group, now),
        chart=hourly_chart(group, now),
        occurrence=occurrence,
        index=index,
        total=total,
        prev_url=f"{url}?occurrence={index - 1}" if index > 1 else None,
        next_url=f"{url}?occurrence={index + 1}" if index < total else None,
        instances=TargetCount.objects.filter(group=group).order_by("-seen_at")[:20],
        ignore_choices=IGNORE_CHOICES,
        api_url=reverse("errors_api:group-detail", args=[group.pk]),
    )
    return render(request, "dashboard/errors/group.html", context)


def _change(request, group):
    """Resolve, unresolve or ignore, then back to the page (POST/redirect/GET)."""
    action = request.POST.get("action")
    if action not in ACTIONS:
        return HttpResponseBadRequest("action: resolve, unresolve or ignore.")
    key = group.aggregation_key
    if action == "resolve":
        group.resolve()
        messages.success(request, f"Resolved {key}: it left the active list, and comes "
                                  "back as a regression if it happens again.")
    elif action == "unresolve":
        group.unresolve()
        messages.success(request, f"{key} is active again.")
    else:
        hours = request.POST.get("ignore_for", "")
        if hours not in dict(IGNORE_CHOICES):
            return HttpResponseBadRequest("ignore_for: empty (for good) or a number of hours.")
        until = timezone.now() + timedelta(hours=int(hours)) if hours else None
        group.ignore(until)
        label = dict(IGNORE_CHOICES)[hours]
        messages.success(request, f"Ignored {key} {label}.")
    # Back to the page, on the occurrence the form was posted from.
    query = request.META.get("QUERY_STRING", "")
    return redirect(group_url(group.service.name, key) + (f"?{query}" if query else ""))


# --- targets ------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@dashboard_access
def service_targets(request, service):
    service = get_object_or_404(Service, name=service)
    targets = list(service.targets.order_by("address"))
    counts = {status: 0 for status in TargetStatus.values}
    for target in targets:
        counts[target.status] = counts.get(target.status, 0) + 1
        target.sorted_labels = sorted((target.labels or {}).items())
    return render(request, "dashboard/errors/targets.html",
                  _context(request, service=service, targets=targets, counts=counts))
