"""
One scrape of one service: discover its targets, fetch them all, merge the
payloads in batches as they arrive.

`scrape(service)` does it all in this process. A large service is scraped in
shards instead: `plan(service)` discovers its targets and splits their ids into
batches of `ERRORS_SCRAPE_SHARD_SIZE`, and `scrape_targets(service, ids, token)`
scrapes one batch, on whichever worker takes it (`errors.tasks`).

Each scrape first claims its targets (`Target.claimed_by` / `claimed_until`, in
the database): a target claimed by another scrape that is still running is left
to it, so two scrapes of one service never fetch the same target at once, and the
claim of a scrape that died ends after the scrape's lock time. The same token
takes its own claim again (a shard task run again after its worker died).

Targets are fetched in parallel (`ERRORS_SCRAPE_CONCURRENCY` at once) with a
per-request timeout. A body byte-identical to the last one merged for that target
is not parsed nor merged (it would add nothing): the target is marked up and
that's all, except once an hour, when it is merged anyway so that its counts stay
marked as seen (old counts are pruned). The other payloads are merged in batches
of at most `MERGE_TARGETS` targets (`errors.aggregation.merge`, one transaction and
a fixed number of statements each) and dropped, so memory stays flat however many
instances a service has. A target that
is down, hangs, answers non-2xx, garbage, the wrong shape or too much is recorded
on its `Target` (status, error, duration) and skipped; the others are merged as
usual and nothing already counted is lost.

The service's request headers may hold `${VAR}` placeholders, resolved at each
scrape as a check's parameters are (`foundation.placeholders`): an unset variable
without default scrapes none of the service's targets, each marked down with an
error naming it, and the values resolved are taken back out of the errors shown.
"""

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from errors import aggregation, discovery, fetch
from errors.periskop import answers
from errors.models import Service, Target, TargetStatus
from foundation import locks, placeholders
from foundation.bulk_updates import update_rows

logger = logging.getLogger(__name__)
TARGET_FIELDS = [
    "status", "last_scrape_at", "last_error", "duration", "target_uuid", "payload_digest",
    "payload_merged_at", "claimed_by", "claimed_until",
]
DISCOVERED_FIELDS = ["labels", "discovered_labels", "url"]
# The dropped targets kept for /targets/, at most: a rule that drops thousands of
# discovered targets (the usual way to select a few) must not bloat the service's row.
KEEP_DROPPED = 1000
# A batch's payloads are held until merged: at most this many targets, or samples.
MERGE_TARGETS = 25
MERGE_SAMPLES = 20_000
# An unchanged payload is merged anyway when its last merge is older than this, so
# that its TargetCount rows are marked seen and never pruned while it reports them.
REMERGE_AFTER = timedelta(hours=1)


@dataclass
class ScrapeReport:
    targets: int = 0
    up: int = 0
    increment: int = 0
    unchanged: int = 0  # up, with the payload of the last merge: not merged again
    busy: int = 0  # claimed by another scrape still running: left to it
    errors: list[str] = field(default_factory=list)


def scrape(service: Service) -> ScrapeReport:
    """Discover `service`'s targets and scrape them all, in this process."""
    started = time.time()
    report, shards = plan(service)
    ids = [pk for shard in shards for pk in shard]
    shard = scrape_targets(service, ids, new_token(), started=started)
    report.up, report.increment = shard.up, shard.increment
    report.unchanged, report.busy = shard.unchanged, shard.busy
    return report


def plan(service: Service) -> tuple[ScrapeReport, list[list[int]]]:
    """Discovery, then the ids of the targets to scrape in shards of
    `ERRORS_SCRAPE_SHARD_SIZE`: a report of what discovery found, and the shards."""
    report = ScrapeReport()
    ids = [target.pk for target in sync_targets(service, report)]
    for problem in report.errors:
        logger.warning("Discovery for %s: %s", service, problem)
    Service.objects.filter(pk=service.pk).update(last_discovery_errors=report.errors)
    size = max(settings.ERRORS_SCRAPE_SHARD_SIZE, 1)
    return report, [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def new_token() -> str:
    """A scrape's (or a shard's) claim token."""
    return uuid.uuid4().hex


@sensitive_variables("headers", "secrets")  # resolved: never on an error page
def scrape_targets(service: Service, target_ids: list[int], token: str,
                   started: float | None = None) -> ScrapeReport:
    """Scrape the targets `target_ids` of `service` that no other scrape holds, and
    merge what they report. `started` (epoch seconds): when the whole scrape began,
    for `Service.last_scrape_duration`."""
    started = started or time.time()
    report = ScrapeReport()
    targets = claim(service, target_ids, token)
    report.targets, report.busy = len(targets), len(set(target_ids)) - len(targets)
    secrets: dict[str, str] = {}
    try:
        headers = placeholders.resolve(service.request_headers, secrets=secrets)
    except placeholders.MissingVariable as exc:
        logger.warning("Scrape of %s: request_headers: %s", service, exc)
        _unscrapable(targets, f"not scraped: request_headers: {exc}")
    else:
        with _claims_renewed([t.pk for t in targets], token, lock_seconds(service)):
            _fetch_and_merge(service, targets, headers, secrets, report)
    for target in targets:
        target.claimed_by, target.claimed_until = "", None
    update_rows(Target, targets, TARGET_FIELDS)
    _finish(service, report, time.time() - started)
    answers.refresh(service, changed=report.increment > 0)  # Periskop's answer, once per scrape or shard
    return report


def claim(service: Service, target_ids: list[int], token: str) -> list[Target]:
    """The targets of `target_ids` that no other scrape holds, now held by `token`:
    a lease of `locks.LEASE_SECONDS`, renewed while the scrape goes on
    (`_claims_renewed`), so that the targets of a scrape whose worker was killed
    are free again within a lease."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=token)
    with transaction.atomic():
        targets = list(
            service.targets.select_for_update(skip_locked=True)
            .filter(free, pk__in=target_ids)
            .order_by("pk")
        )
        until = now + timedelta(seconds=locks.LEASE_SECONDS)
        Target.objects.filter(pk__in=[t.pk for t in targets]).update(
            claimed_by=token, claimed_until=until
        )
    return targets


@contextmanager
def _claims_renewed(target_ids: list[int], token: str, most_seconds: float):
    """Renew the claims of `token` on `target_ids` every third of a lease, for at
    most `most_seconds`, until the block ends."""
    stop = threading.Event()
    deadline = time.monotonic() + most_seconds

    def renew() -> None:
        try:
            while not stop.wait(locks.LEASE_SECONDS / 3) and time.monotonic() < deadline:
                until = timezone.now() + timedelta(seconds=locks.LEASE_SECONDS)
                try:
                    Target.objects.filter(pk__in=target_ids, claimed_by=token).update(
                        claimed_until=until
                    )
                except DatabaseError as exc:  # the next try may work; the lease may lapse
                    logger.warning("Could not renew the claims of a scrape: %s", exc)
        finally:
            connection.close()  # this thread's own connection

    renewer = threading.Thread(target=renew, name="errors-claims", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def lock_seconds(service: Service) -> int:
    """How long a scrape of `service` may hold its lock and its targets."""
    return max(service.refresh_interval * 4, 60)


def _fetch_and_merge(service, targets, headers, secrets, report) -> None:
    fresh = timezone.now() - REMERGE_AFTER
    digests = {
        t: t.payload_digest for t in targets
        if t.payload_merged_at is not None and t.payload_merged_at > fresh
    }
    results = fetch.fetch_many(
        [(target, target.url) for target in targets],
        concurrency=settings.ERRORS_SCRAPE_CONCURRENCY,
        timeout=settings.ERRORS_SCRAPE_TIMEOUT_SECONDS,
        max_bytes=settings.ERRORS_MAX_BODY_BYTES,
        headers=headers,
        follow_redirects=service.follow_redirects,
        digests=digests,
    )
    pending = Pending(aggregation.Batch(service))
    for target, result in results:
        _record(target, result, secrets)
        if result.unchanged:
            report.up += 1
            report.unchanged += 1
        elif result.payload is not None:
            pending.add(target, result)
            if len(pending.batch) >= MERGE_TARGETS or pending.batch.samples >= MERGE_SAMPLES:
                pending = _flush(pending, report)
    _flush(pending, report)


@dataclass
class Pending:
    """A batch to merge, and the targets (with their body's digest) it holds."""

    batch: aggregation.Batch
    targets: list[tuple[Target, str]] = field(default_factory=list)

    def add(self, target: Target, result: fetch.FetchResult) -> None:
        target.target_uuid = (result.payload.target_uuid or "")[:100]
        self.batch.add(result.payload, target.url)
        self.targets.append((target, result.digest))


def sync_targets(service: Service, report: ScrapeReport) -> list[Target]:
    """The service's Target rows made to match what discovery finds now."""
    found = discovery.discover(
        service.discovery,
        base_dir=service.discovery_dir(settings.CONFIG_FILE),
        defaults=_defaults(service),
    )
    problems = found.errors
    report.errors += problems
    existing = {t.address: t for t in service.targets.all()}
    wanted = {d.address: d for d in found.targets}
    if problems:
        # A source failed (DNS down, a file half-written): keep its last known
        # targets rather than flap them, as Prometheus does.
        wanted.update({a: _known(t) for a, t in existing.items() if a not in wanted})
    service.targets.filter(address__in=set(existing) - set(wanted)).delete()
    changed = [_relabel(existing[a], d) for a, d in wanted.items() if a in existing]
    Target.objects.bulk_update([t for t in changed if t], DISCOVERED_FIELDS)
    Target.objects.bulk_create(
        [_new_target(service, d) for a, d in wanted.items() if a not in existing],
        ignore_conflicts=True,
    )
    Service.objects.filter(pk=service.pk).update(dropped_targets=found.dropped[:KEEP_DROPPED])
    report.targets = len(wanted)
    return list(service.targets.filter(address__in=wanted))


def _defaults(service: Service) -> discovery.ScrapeDefaults:
    """The labels the service gives its targets before relabelling (Prometheus's job,
    scheme, metrics path, interval and timeout)."""
    return discovery.ScrapeDefaults(
        job=service.name,
        scheme=service.scheme,
        metrics_path=service.endpoint,
        interval=service.refresh_interval,
        timeout=settings.ERRORS_SCRAPE_TIMEOUT_SECONDS,
    )


def _known(target: Target) -> discovery.DiscoveredTarget:
    return discovery.DiscoveredTarget(
        target.address, target.labels, target.url, target.discovered_labels
    )


def _new_target(service: Service, found: discovery.DiscoveredTarget) -> Target:
    return Target(
        service=service, address=found.address, labels=found.labels, url=found.url,
        discovered_labels=found.discovered_labels,
    )


def _relabel(target: Target, found: discovery.DiscoveredTarget) -> Target | None:
    """`target` with what discovery found now, None if nothing changed."""
    now = (found.labels, found.discovered_labels, found.url)
    if (target.labels, target.discovered_labels, target.url) == now:
        return None
    target.labels, target.discovered_labels, target.url = now
    return target


def _unscrapable(targets: list[Target], error: str) -> None:
    for target in targets:
        target.last_scrape_at, target.duration = timezone.now(), 0.0
        target.status, target.last_error = TargetStatus.DOWN, error


def _record(target: Target, result: fetch.FetchResult, secrets: dict[str, str]) -> None:
    target.last_scrape_at, target.duration = timezone.now(), result.duration
    ok = result.payload is not None or result.unchanged
    target.status = TargetStatus.UP if ok else TargetStatus.DOWN
    # An instance may echo a header back (in a body of the wrong shape, say).
    target.last_error = placeholders.redact(result.error, secrets)


def _flush(pending: Pending, report: ScrapeReport) -> Pending:
    """Merge the pending batch; an empty one to fill next. If the batch cannot be
    stored, its payloads are merged one by one, so that one payload the database
    refuses does not hold back the others."""
    if len(pending.targets) == 1 or not pending.targets:
        _store(pending.batch, pending.targets, report)
    else:
        try:
            _store(pending.batch, pending.targets, report, quiet=True)
        except DatabaseError:
            logger.warning("A batch of %d targets could not be stored: one by one",
                           len(pending.targets))
            for item, target in zip(pending.batch.items, pending.targets):
                _store(aggregation.Batch(pending.batch.service, [item]), [target], report)
    return Pending(aggregation.Batch(pending.batch.service))


def _store(batch: aggregation.Batch, targets: list[tuple[Target, str]], report: ScrapeReport,
           quiet: bool = False) -> None:
    """Merge `batch`; mark its targets merged (their digests kept), or down if the
    database refused it (raised instead when `quiet`)."""
    if not targets:
        return
    try:
        merged = aggregation.merge(batch)
    except DatabaseError as exc:
        if quiet:
            raise
        logger.exception("Could not store the errors of %s", targets[0][0])
        for target, _ in targets:
            target.status, target.last_error = TargetStatus.DOWN, f"not stored: {exc}"
            target.payload_digest, target.payload_merged_at = "", None
        return
    now = timezone.now()
    for target, digest in targets:
        target.payload_digest, target.payload_merged_at = digest, now
    report.up += len(targets)
    report.increment += merged.increment


def _finish(service: Service, report: ScrapeReport, duration: float) -> None:
    # Shards of one scrape finish in any order: failures add up in SQL.
    Service.objects.filter(pk=service.pk).update(
        last_scrape_at=timezone.now(),
        last_scrape_duration=duration,
        scrape_failures=F("scrape_failures") + (report.targets - report.up),
    )

