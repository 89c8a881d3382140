"""
Merging instances' payloads into a service's error groups, exactly.

Each instance (a target) reports, per aggregation key, a `total_count` that only
grows while it runs. For every (key, instance) the last reported count is kept
in `TargetCount`, and the group's total grows by the increment:

* first report from this instance: its whole count;
* a count that grew: the difference;
* a count that dropped: the instance restarted, and its new count is new errors
  (Prometheus' counter-reset rule; Periskop refused the update and lost them);
* the same count again: nothing.

An instance is identified by the payload's `target_uuid`, else by its URL; a new
`target_uuid` is a new instance.

`ingest(service, payload, fallback_target_id)` merges one payload (a push);
`Batch` gathers the payloads of several instances of one service and `merge()`
merges them together, in one transaction and a fixed number of statements,
whatever the number of instances and keys: a scrape of 500 instances is 20
batches, not 500 transactions. Concurrent merges (shards of one service on two
workers, a push during a scrape) stay exact:

* missing groups are created first, in a statement of their own, keys sorted;
* the `TargetCount` rows and what the batch says of each key are built before
  any lock;
* then the batch's groups are locked in primary-key order (selected by primary
  key, `FOR NO KEY UPDATE` on PostgreSQL), the same for every merger, so two merges
  of one service queue behind each other instead of deadlocking, and `TargetCount`
  and `HourlyCount` rows are read and written under those locks;
* totals and hourly counts grow through `F()` expressions (`total_count =
  total_count + n` in SQL), never a value read, added to in Python and written back;
* samples are stored after that transaction, without locks: a sample is unique by
  (group, uuid) in the database, and each merge trims the groups it filled back to
  the cap, so the locks are held only for the counts. They are inserted in group
  order, the order of the locks, for the share locks their foreign keys take.

Occurrences are merged newest first, de-duplicated by uuid and capped per group at
`ERRORS_MAX_OCCURRENCES` when stored, so storage stays flat however many instances
report. A resolved group that gets new errors comes back, flagged as a regression.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, Min, Value, Window
from django.db.models.constants import OnConflict
from django.db.models.functions import Least, RowNumber
from django.utils import timezone

from errors import alerts
from errors.models import (
    MAX_COUNT,
    ErrorGroup,
    HourlyCount,
    Occurrence,
    Service,
    TargetCount,
)
from errors.payload import AggregateData, ErrorInfo, OccurrenceData, Payload
from foundation.bulk_updates import case

MAX_KEY_LENGTH = 500
# An unchanged count is written again (marked seen) at most this often.
SEEN_EVERY = timedelta(hours=1)


@dataclass
class IngestResult:
    new_groups: int = 0
    increment: int = 0  # occurrences added to the totals
    new_occurrences: int = 0  # occurrence samples stored


@dataclass
class Batch:
    """The payloads of some instances of one service, to merge in one go: each as
    (instance id, {storable key: aggregate}), in the order they came."""

    service: Service
    items: list[tuple[str, dict[str, AggregateData]]] = field(default_factory=list)
    samples: int = 0  # occurrences held, to bound the batch's memory

    def add(self, payload: Payload, fallback_target_id: str) -> None:
        target_id = (payload.target_uuid or fallback_target_id)[:255]
        aggregates = {storable_key(a.aggregation_key): a for a in payload.aggregated_errors}
        self.items.append((target_id, aggregates))
        self.samples += sum(len(a.latest_errors) for a in aggregates.values())

    def __len__(self) -> int:
        return len(self.items)

    def keys(self) -> list[str]:
        return sorted({key for _, aggregates in self.items for key in aggregates})

    def summaries(self) -> dict[str, "Summary"]:
        """What the batch says of each key, all instances together."""
        summaries: dict[str, Summary] = {}
        for _, aggregates in self.items:
            for key, aggregate in aggregates.items():
                summary = summaries.setdefault(key, Summary(aggregate.severity))
                summary.add(aggregate)
        return summaries


@dataclass
class Summary:
    """One key in a batch: the last severity reported, the earliest moment, and the
    newest sample (the later instance's on a tie)."""

    severity: str
    earliest: datetime | None = None
    newest: OccurrenceData | None = None

    def add(self, aggregate: AggregateData) -> None:
        self.severity = aggregate.severity
        times = [o.timestamp for o in aggregate.latest_errors]
        self.earliest = _earliest(self.earliest, aggregate.created_at, *times)
        newest = max(aggregate.latest_errors, key=lambda o: o.timestamp, default=None)
        if newest and (self.newest is None or newest.timestamp >= self.newest.timestamp):
            self.newest = newest


def ingest(service: Service, payload: Payload, fallback_target_id: str, now=None) -> IngestResult:
    """Merge `payload` from one instance into `service`'s groups."""
    batch = Batch(service)
    batch.add(payload, fallback_target_id)
    return merge(batch, now)


def merge(batch: Batch, now=None) -> IngestResult:
    """Merge every payload of `batch` into its service's groups, in one transaction."""
    now = now or timezone.now()
    keys = batch.keys()
    if not keys:
        return IngestResult()
    created, group_ids = _create_missing(batch.service, keys)
    # Built before the locks, which are then held for little more than SQL.
    summaries = batch.summaries()
    counts = _count_rows(group_ids, batch.items)
    with transaction.atomic():
        groups = _locked_groups(group_ids)
        increments = _count(group_ids, batch.items, counts, now)
        before = {g.pk: (g.total_count, g.regression) for g in groups.values()}  # for alerts
        _update_groups(groups, summaries, increments, now)
        _add_hourly(increments, now)
        alerts.after_ingest(batch.service, [
            (group, *before[group.pk], increments[group.pk]) for group in groups.values()
        ])
    # Samples after the counts, out of their transaction: they need no lock (their
    # uuids and the cap are enforced by the database and by `_trim`), and building
    # thousands of rows while holding the groups would keep other shards waiting.
    stored = _store_occurrences(groups, batch.items)
    return IngestResult(created, sum(increments.values()), stored)


def storable_key(key: str) -> str:
    """Keys are indexed, so bounded: a longer one keeps its start and a hash."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_LENGTH - 17]}~{digest}"


# Written by a merge besides total_count (which grows through F()).
GROUP_FIELDS = [
    "severity", "first_seen", "last_seen", "status", "resolved_at",
    "ignored_until", "regression", "error_class", "message",
]


def _values(group: ErrorGroup) -> tuple:
    return tuple(getattr(group, name) for name in GROUP_FIELDS)


def _create_missing(service: Service, keys: list[str]) -> tuple[int, dict[str, int]]:
    """The groups of `keys` that do not exist yet, created in their own statement
    (autocommit), keys sorted: a concurrent merge that creates some of the same
    waits for this one statement, not for a whole transaction that may wait for it
    in turn. How many were missing, and the primary key of each key's group."""
    group_ids = dict(
        ErrorGroup.objects.filter(service=service, aggregation_key__in=keys).values_list(
            "aggregation_key", "pk"
        )
    )
    missing = [ErrorGroup(service=service, aggregation_key=k) for k in keys if k not in group_ids]
    if missing:
        ErrorGroup.objects.bulk_create(missing, ignore_conflicts=True)
        group_ids.update(
            ErrorGroup.objects.filter(
                service=service, aggregation_key__in=[g.aggregation_key for g in missing]
            ).values_list("aggregation_key", "pk")
        )
    return len(missing), group_ids


def _locked_groups(group_ids: dict[str, int]) -> dict[str, ErrorGroup]:
    # Locked in primary-key order, the same for every merger: no deadlock. Selected
    # by primary key, so that MySQL and MariaDB, which lock rows as their index scan
    # meets them (before any ORDER BY), meet them in that order too.
    # PostgreSQL's FOR NO KEY UPDATE lets the samples' foreign keys be checked (FOR
    # KEY SHARE) meanwhile: another merge's samples never wait for these locks.
    locked = (
        ErrorGroup.objects.select_for_update(no_key=connection.features.has_select_for_no_key_update)
        .filter(pk__in=sorted(group_ids.values()))
        .order_by("pk")
    )
    return {group.aggregation_key: group for group in locked}


def _count_rows(group_ids, items) -> dict[tuple[int, str], int]:
    """The count of each (group, instance) of the batch: the instance's last, which
    the `TargetCount` row will hold if it must be written."""
    return {
        (group_ids[key], target_id): aggregate.total_count
        for target_id, aggregates in items
        for key, aggregate in aggregates.items()
    }


def _count(group_ids, items, rows, now) -> dict[int, int]:
    """Each group's increment from the batch's instances, in the order they came
    (an instance twice in a batch counts its growth once). The `rows` (see
    `_count_rows`) stored in one upsert: the new counts, and the unchanged ones last
    marked seen over an hour ago (so that pruning, which counts in days, never takes
    a count still reported)."""
    target_ids = {target_id for target_id, _ in items}
    stored = {
        (group_id, target_id): (count, seen_at)
        for group_id, target_id, count, seen_at in TargetCount.objects.filter(
            group_id__in=set(group_ids.values()), target_id__in=target_ids
        ).values_list("group_id", "target_id", "count", "seen_at")
    }
    latest = {pair: count for pair, (count, _) in stored.items()}
    increments: dict[int, int] = defaultdict(int)
    for target_id, aggregates in items:
        for key, aggregate in aggregates.items():
            pair = (group_ids[key], target_id)
            count, before = aggregate.total_count, latest.get(pair)
            increments[pair[0]] += count - before if before is not None and count >= before else count
            latest[pair] = count
    stale = now - SEEN_EVERY
    _upsert_counts([
        (*pair, count) for pair, count in rows.items()
        if pair not in stored or stored[pair][0] != count or stored[pair][1] < stale
    ], now)
    return increments


# The columns of an upserted TargetCount row, and those an existing row takes.
COUNT_COLUMNS = ("group_id", "target_id", "count", "seen_at")
COUNT_UPDATED = ("count", "seen_at")


def _upsert_counts(rows: list[tuple[int, str, int]], now) -> None:
    """Insert or update the (group id, target id, count) `rows`, all seen `now`:
    the statement `bulk_create(update_conflicts=True)` writes, in the database's
    own dialect, without a model instance per row. A cold scrape of 500 instances
    writes 50,000 rows; building and preparing their instances cost more than the
    statements, and on PostgreSQL so did psycopg's adapting four parameters a
    row, so there the rows go as three arrays (`unnest`): six times less CPU."""
    if not rows:
        return
    ops, quote = connection.ops, connection.ops.quote_name
    fields = [TargetCount._meta.get_field(column) for column in COUNT_COLUMNS]
    seen_at = fields[3].get_db_prep_save(now, connection)
    # MySQL and MariaDB take no conflict target: their upsert is on any unique key.
    unique = ("group_id", "target_id") if connection.features.supports_update_conflicts_with_target else ()
    suffix = ops.on_conflict_suffix_sql(fields, OnConflict.UPDATE, COUNT_UPDATED, unique)
    insert = f"INSERT INTO {quote(TargetCount._meta.db_table)} ({', '.join(map(quote, COUNT_COLUMNS))})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            groups, targets, counts = (list(column) for column in zip(*rows))
            cursor.execute(
                f"{insert} SELECT g, t, n, %s FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[])"
                f" AS u(g, t, n) {suffix}",
                [seen_at, groups, targets, counts],
            )
            return
        size = ops.bulk_batch_size(fields, rows)
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            values = ops.bulk_insert_sql(fields, [["%s"] * len(fields)] * len(chunk))
            cursor.execute(f"{insert} {values} {suffix}", [v for row in chunk for v in (*row, seen_at)])


def _update_groups(groups, summaries, increments, now) -> None:
    """Severity, first and last seen, the latest message, reopening: written only
    for the groups and fields that changed (a re-scrape usually changes none), in
    one UPDATE, the totals grown in SQL."""
    before = {group.pk: _values(group) for group in groups.values()}
    for key, group in groups.items():
        _apply(group, summaries[key], increments[group.pk], now)
    changes: dict[str, dict[int, object]] = defaultdict(dict)
    for group in groups.values():
        for name, old in zip(GROUP_FIELDS, before[group.pk]):
            if getattr(group, name) != old:
                changes[name][group.pk] = getattr(group, name)
    grown = {pk: n for pk, n in increments.items() if n}
    rows = {pk for values in changes.values() for pk in values} | set(grown)
    if rows:
        assignments = {name: case(ErrorGroup, name, values) for name, values in changes.items()}
        if grown:
            assignments["total_count"] = _grown("total_count", case(
                ErrorGroup, "total_count", grown, added=True
            ))
        ErrorGroup.objects.filter(pk__in=rows).update(**assignments)


def _grown(column: str, increment):
    """`column + increment`, stopping at 2^63-1, the most the column holds: each
    instance's count fits, but a sum over time may not. Written as
    `LEAST(column, MAX - increment) + increment` so that the SQL never computes a
    value past the limit (PostgreSQL refuses one: "bigint out of range")."""
    big = BigIntegerField()
    room = ExpressionWrapper(Value(MAX_COUNT, output_field=big) - increment, output_field=big)
    return ExpressionWrapper(Least(F(column), room, output_field=big) + increment, output_field=big)


def _apply(group: ErrorGroup, summary: Summary, increment: int, now) -> None:
    group.severity = summary.severity
    group.first_seen = _earliest(group.first_seen, summary.earliest)
    newest = summary.newest
    if newest and (group.last_seen is None or newest.timestamp >= group.last_seen):
        group.last_seen = newest.timestamp
        group.error_class, group.message = newest.error.error_class[:255], newest.error.message
    if group.last_seen is None:
        group.last_seen = now  # a client that sends counts without samples
    if increment > 0:
        group.reopen(now)


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _store_occurrences(groups, items) -> int:
    """The batch's new samples, newest first, at most `ERRORS_MAX_OCCURRENCES` per
    group: a query for what is stored, one for which are known (the uuids the
    groups hold), one for the times of the groups that would go over the cap (so
    that only samples that stay are inserted), one insert, and one delete of the
    stored samples they displace."""
    cap = settings.ERRORS_MAX_OCCURRENCES
    incoming = _newest_per_group(groups, items, cap)
    stored = _stored_samples(groups.values())
    full = {gid: oldest for gid, (n, oldest) in stored.items() if n >= cap}
    candidates = {
        group_id: [o for o in occurrences if not (group_id in full and o.timestamp < full[group_id])]
        for group_id, occurrences in incoming.items()
    }
    # Only a group that holds samples can know one: theirs are read whole (at most
    # about `cap` each), which costs less than a query naming thousands of uuids.
    holding = [group_id for group_id, occurrences in candidates.items() if occurrences and group_id in stored]
    known = set(
        Occurrence.objects.filter(group_id__in=holding).values_list("group_id", "uuid")
    ) if holding else set()
    new = {
        group_id: [o for o in occurrences if (group_id, o.uuid) not in known]
        for group_id, occurrences in candidates.items()
    }
    over = [g for g, o in new.items() if o and stored.get(g, (0, None))[0] + len(o) > cap]
    if over:
        new.update(_staying(new, over, cap))
    # In group order: checking their foreign keys share-locks the groups in the order
    # the merges lock them (MySQL), so neither waits for the other in a cycle.
    rows = [_sample_row(group_id, o) for group_id in sorted(new) for o in new[group_id]]
    _insert_samples(rows)
    if over:
        _trim(over, cap)
    return len(rows)


def _staying(new, over, cap) -> dict[int, list[OccurrenceData]]:
    """For the groups `over` the cap with their `new` samples: the new samples among
    the `cap` newest of stored and new (a new one wins a tie, as `_trim` keeps the
    higher primary key)."""
    times = defaultdict(list)
    for group_id, moment in Occurrence.objects.filter(group_id__in=over).values_list(
        "group_id", "timestamp"
    ):
        times[group_id].append((moment, 0))
    staying = {}
    for group_id in over:
        ranked = sorted(
            times[group_id] + [(o.timestamp, 1) for o in new[group_id]], reverse=True
        )[:cap]
        kept = sum(is_new for _, is_new in ranked)  # new ones sort first: the newest
        staying[group_id] = sorted(new[group_id], key=lambda o: o.timestamp, reverse=True)[:kept]
    return staying


def _newest_per_group(groups, items, cap) -> dict[int, list[OccurrenceData]]:
    """Per group, the batch's samples newest first, one per uuid, at most `cap`."""
    by_group: dict[int, dict[str, OccurrenceData]] = defaultdict(dict)
    for _, aggregates in items:
        for key, aggregate in aggregates.items():
            samples = by_group[groups[key].pk]
            for occurrence in aggregate.latest_errors:
                samples.setdefault(occurrence.uuid, occurrence)
    return {
        group_id: sorted(samples.values(), key=lambda o: o.timestamp, reverse=True)[:cap]
        for group_id, samples in by_group.items()
    }


def _stored_samples(groups) -> dict[int, tuple[int, datetime]]:
    """(how many, oldest) samples each group holds: a full group skips older ones."""
    stats = (
        Occurrence.objects.filter(group__in=groups)
        .values("group_id")
        .annotate(n=Count("pk"), oldest=Min("timestamp"))
    )
    return {s["group_id"]: (s["n"], s["oldest"]) for s in stats}


def _trim(group_ids: list[int], cap: int) -> None:
    """Each group's samples beyond its `cap` newest, deleted in one statement."""
    ranked = (
        Occurrence.objects.filter(group_id__in=group_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("group_id")],
                              order_by=[F("timestamp").desc(), F("pk").desc()]))
        .filter(rank__gt=cap)
        .values("pk")
    )
    Occurrence.objects.filter(pk__in=ranked).delete()


def _sample_row(group_id: int, data: OccurrenceData) -> dict:
    """The `Occurrence` row of a sample, column by column."""
    return {
        "group_id": group_id,
        "uuid": data.uuid[:64],
        "timestamp": data.timestamp,
        "severity": data.severity,
        "error_class": data.error.error_class[:255],
        "message": data.error.message,
        "stacktrace": data.error.stacktrace,
        "cause": _causes(data.error.cause),
        "http_context": _http_context(data),
    }


def _insert_samples(rows: list[dict]) -> None:
    """Insert the sample `rows`, skipping any the database already holds (same group
    and uuid). On PostgreSQL they go as one JSON document that the server unpacks
    (`jsonb_to_recordset`): Django's `bulk_create` adapts nine parameters a row, each
    JSON column encoded on its own, and psycopg then reads a statement of 90,000
    placeholders, which cost a cold scrape of 500 instances a second of CPU."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Occurrence.objects.bulk_create([Occurrence(**row) for row in rows], ignore_conflicts=True)
        return
    quote = connection.ops.quote_name
    fields = [Occurrence._meta.get_field(column) for column in rows[0]]  # `_sample_row`'s
    columns = ", ".join(quote(field.column) for field in fields)
    typed = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in fields)
    sql = (
        f"INSERT INTO {quote(Occurrence._meta.db_table)} ({columns}) SELECT {columns}"
        f" FROM jsonb_to_recordset(%s::jsonb) AS r({typed}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        for document in _documents(rows):
            cursor.execute(sql, [document])


# A jsonb value holds at most 255 MB: samples go in documents of this size at most.
SAMPLES_DOCUMENT_BYTES = 32 * 1024 * 1024


def _documents(rows: list[dict]):
    """JSON arrays of the `rows`, each under SAMPLES_DOCUMENT_BYTES (unless one row is)."""
    chunk, size = [], 0
    for row in rows:
        part = json.dumps({**row, "timestamp": row["timestamp"].isoformat()})
        if chunk and size + len(part) > SAMPLES_DOCUMENT_BYTES:
            yield f"[{','.join(chunk)}]"
            chunk, size = [], 0
        chunk.append(part)
        size += len(part) + 1
    yield f"[{','.join(chunk)}]"


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
    """The hour's counts grow in SQL (`count + n`); rows the hour lacks are added.
    Read and written under the groups' locks, so no other merge adds the same row."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    grown = {group_id: n for group_id, n in increments.items() if n > 0}
    if not grown:
        return
    rows = dict(HourlyCount.objects.filter(group_id__in=grown, hour=hour).values_list("pk", "group_id"))
    if rows:
        added = case(
            HourlyCount, "count", {pk: grown[group_id] for pk, group_id in rows.items()}, added=True
        )
        HourlyCount.objects.filter(pk__in=rows).update(count=_grown("count", added))
    present = set(rows.values())
    HourlyCount.objects.bulk_create(
        [HourlyCount(group_id=g, hour=hour, count=n) for g, n in grown.items() if g not in present]
    )
