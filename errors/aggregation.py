"""
Merging one instance's payload into a service's error groups, exactly.

Each instance (a target) reports, per aggregation key, a `total_count` that only
grows while it runs. For every (key, instance) the last reported count is kept
in `TargetCount`, and the group's total grows by the increment:

* first report from this instance: its whole count;
* a count that grew: the difference;
* a count that dropped: the instance restarted, and its new count is new errors
  (Prometheus' counter-reset rule; Periskop refused the update and lost them);
* the same count again: nothing.

An instance is identified by the payload's `target_uuid`, else by its URL; a new
`target_uuid` is a new instance. Everything happens in one transaction with the
group and count rows locked, so a restart of this service or several scrapers at
once neither double-counts nor loses anything.

Occurrences are merged newest first, de-duplicated by uuid and capped per group at
`ERRORS_MAX_OCCURRENCES` when stored, so storage stays flat however many instances
report. A resolved group that gets new errors comes back, flagged as a regression.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from errors import alerts
from errors.models import (
    ErrorGroup,
    HourlyCount,
    Occurrence,
    Service,
    TargetCount,
)
from errors.payload import AggregateData, ErrorInfo, OccurrenceData, Payload

MAX_KEY_LENGTH = 500


@dataclass
class IngestResult:
    new_groups: int = 0
    increment: int = 0  # occurrences added to the totals
    new_occurrences: int = 0  # occurrence samples stored


def ingest(service: Service, payload: Payload, fallback_target_id: str, now=None) -> IngestResult:
    """Merge `payload` from one instance into `service`'s groups."""
    now = now or timezone.now()
    target_id = payload.target_uuid or fallback_target_id
    aggregates = {storable_key(a.aggregation_key): a for a in payload.aggregated_errors}
    if not aggregates:
        return IngestResult()
    with transaction.atomic():
        groups, created = _locked_groups(service, aggregates)
        increments = _count(groups, aggregates, target_id[:255], now)
        before = {group.pk: _values(group) for group in groups.values()}
        for key, group in groups.items():
            _apply(group, aggregates[key], increments[group.pk], now)
        _save_changed(groups.values(), before)
        stored = _store_occurrences(groups, aggregates)
        _add_hourly(increments, now)
        alerts.after_ingest(service, [(g, *_alert_fields(before[g.pk])) for g in groups.values()],
                            sum(increments.values()))
    return IngestResult(created, sum(increments.values()), stored)


def storable_key(key: str) -> str:
    """Keys are indexed, so bounded: a longer one keeps its start and a hash."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_LENGTH - 17]}~{digest}"


GROUP_FIELDS = [
    "severity", "total_count", "first_seen", "last_seen", "status", "resolved_at",
    "ignored_until", "regression", "error_class", "message",
]


def _alert_fields(values: tuple) -> tuple[int, bool]:
    """The total and regression flag in a group's `_values()`, for errors.alerts."""
    return values[GROUP_FIELDS.index("total_count")], values[GROUP_FIELDS.index("regression")]


def _values(group: ErrorGroup) -> tuple:
    return tuple(getattr(group, name) for name in GROUP_FIELDS)


def _save_changed(groups, before: dict) -> None:
    """Only the groups and fields that changed: a re-scrape usually changes none,
    and an UPDATE of every field of every group cost most of a scrape."""
    changed = [g for g in groups if _values(g) != before[g.pk]]
    fields = {
        name
        for group in changed
        for name, old in zip(GROUP_FIELDS, before[group.pk])
        if getattr(group, name) != old
    }
    if changed:
        ErrorGroup.objects.bulk_update(changed, sorted(fields))


def _locked_groups(service, aggregates) -> tuple[dict[str, ErrorGroup], int]:
    keys = list(aggregates)
    existing = set(
        ErrorGroup.objects.filter(service=service, aggregation_key__in=keys).values_list(
            "aggregation_key", flat=True
        )
    )
    missing = [ErrorGroup(service=service, aggregation_key=k) for k in keys if k not in existing]
    ErrorGroup.objects.bulk_create(missing, ignore_conflicts=True)
    # Locked in primary-key order, the same for every scraper: no deadlock.
    locked = (
        ErrorGroup.objects.select_for_update()
        .filter(service=service, aggregation_key__in=keys)
        .order_by("pk")
    )
    return {group.aggregation_key: group for group in locked}, len(missing)


def _count(groups, aggregates, target_id: str, now) -> dict[int, int]:
    """Each group's increment from this instance; the new counts are stored."""
    previous = {
        row.group_id: row
        for row in TargetCount.objects.select_for_update().filter(
            group__in=groups.values(), target_id=target_id
        )
    }
    increments, new_rows, moved = {}, [], []
    for key, group in groups.items():
        count = aggregates[key].total_count
        row = previous.get(group.pk)
        increments[group.pk] = count - row.count if row and count >= row.count else count
        if row is None:
            new_rows.append(TargetCount(group=group, target_id=target_id, count=count, seen_at=now))
        elif row.count != count:
            row.count = count
            moved.append(row)
    TargetCount.objects.bulk_update(moved, ["count"])
    TargetCount.objects.filter(pk__in=[r.pk for r in previous.values()]).update(seen_at=now)
    TargetCount.objects.bulk_create(new_rows)
    return increments


def _apply(group: ErrorGroup, aggregate: AggregateData, increment: int, now) -> None:
    group.severity = aggregate.severity
    group.total_count += increment
    times = [o.timestamp for o in aggregate.latest_errors]
    group.first_seen = _earliest(group.first_seen, aggregate.created_at, *times)
    newest = max(aggregate.latest_errors, key=lambda o: o.timestamp, default=None)
    if newest and (group.last_seen is None or newest.timestamp >= group.last_seen):
        group.last_seen = newest.timestamp
        group.error_class, group.message = newest.error.error_class[:255], newest.error.message
    if group.last_seen is None:
        group.last_seen = now  # a client that sends counts without samples
    if increment > 0:
        group.reopen(now)


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _store_occurrences(groups, aggregates) -> int:
    cap = settings.ERRORS_MAX_OCCURRENCES
    incoming = {
        group.pk: sorted(aggregates[key].latest_errors, key=lambda o: o.timestamp, reverse=True)[:cap]
        for key, group in groups.items()
    }
    known = set(
        Occurrence.objects.filter(
            group__in=groups.values(), uuid__in={o.uuid for occ in incoming.values() for o in occ}
        ).values_list("group_id", "uuid")
    )
    stored = _stored_samples(groups.values())
    full = {gid: oldest for gid, (n, oldest) in stored.items() if n >= cap}
    rows = [
        _occurrence(group_id, occurrence)
        for group_id, occurrences in incoming.items()
        for occurrence in occurrences
        if (group_id, occurrence.uuid) not in known
        and not (group_id in full and occurrence.timestamp < full[group_id])
    ]
    Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
    added = Counter(row.group_id for row in rows)
    for group_id, n in added.items():
        if stored.get(group_id, (0, None))[0] + n > cap:  # only groups over the cap
            _trim(group_id, cap)
    return len(rows)


def _stored_samples(groups) -> dict[int, tuple[int, datetime]]:
    """(how many, oldest) samples each group holds: a full group skips older ones."""
    stats = (
        Occurrence.objects.filter(group__in=groups)
        .values("group_id")
        .annotate(n=Count("pk"), oldest=Min("timestamp"))
    )
    return {s["group_id"]: (s["n"], s["oldest"]) for s in stats}


def _trim(group_id: int, cap: int) -> None:
    newest_first = Occurrence.objects.filter(group_id=group_id).order_by("-timestamp", "-pk")
    extra = list(newest_first.values_list("pk", flat=True)[cap:])
    if extra:
        Occurrence.objects.filter(pk__in=extra).delete()


def _occurrence(group_id: int, data: OccurrenceData) -> Occurrence:
    return Occurrence(
        group_id=group_id,
        uuid=data.uuid[:64],
        timestamp=data.timestamp,
        severity=data.severity,
        error_class=data.error.error_class[:255],
        message=data.error.message,
        stacktrace=data.error.stacktrace,
        cause=_causes(data.error.cause),
        http_context=_http_context(data),
    )


def _causes(cause: ErrorInfo | None) -> list[dict] | None:
    """The cause chain as a list, outermost first."""
    chain = []
    while cause is not None:
        chain.append({"class": cause.error_class, "message": cause.message, "stacktrace": cause.stacktrace})
        cause = cause.cause
    return chain or None


def _http_context(data: OccurrenceData) -> dict | None:
    context = data.http_context
    if context is None:
        return None
    return {
        "request_method": context.request_method,
        "request_url": context.request_url,
        "request_headers": context.request_headers,
        "request_body": context.request_body,
    }


def _add_hourly(increments: dict[int, int], now) -> None:
    hour = now.replace(minute=0, second=0, microsecond=0)
    grown = {group_id: n for group_id, n in increments.items() if n > 0}
    rows = {r.group_id: r for r in HourlyCount.objects.filter(group_id__in=grown, hour=hour)}
    for group_id, n in grown.items():
        if group_id in rows:
            rows[group_id].count += n
    HourlyCount.objects.bulk_update(rows.values(), ["count"])
    HourlyCount.objects.bulk_create(
        [HourlyCount(group_id=g, hour=hour, count=n) for g, n in grown.items() if g not in rows]
    )
