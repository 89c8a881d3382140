"""
One scrape of one service: discover its targets, fetch them all, merge each
payload as it arrives.

Targets are fetched in parallel (`ERRORS_SCRAPE_CONCURRENCY` at once) with a
per-request timeout, and each payload is merged and dropped as soon as it
arrives, so memory stays flat however many instances a service has. A target that
is down, hangs, answers non-2xx, garbage, the wrong shape or too much is recorded
on its `Target` (status, error, duration) and skipped; the others are merged as
usual and nothing already counted is lost.

The service's request headers may hold `${VAR}` placeholders, resolved at each
scrape as a check's parameters are (`foundation.placeholders`): an unset variable
without default scrapes none of the service's targets, each marked down with an
error naming it, and the values resolved are taken back out of the errors shown.
"""

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from errors import aggregation, discovery, fetch
from errors.periskop import answers
from errors.models import Service, Target, TargetStatus
from foundation import placeholders

logger = logging.getLogger(__name__)
TARGET_FIELDS = ["status", "last_scrape_at", "last_error", "duration", "target_uuid"]
DISCOVERED_FIELDS = ["labels", "discovered_labels", "url"]
# The dropped targets kept for /targets/, at most: a rule that drops thousands of
# discovered targets (the usual way to select a few) must not bloat the service's row.
KEEP_DROPPED = 1000


@dataclass
class ScrapeReport:
    targets: int = 0
    up: int = 0
    increment: int = 0
    errors: list[str] = field(default_factory=list)


@sensitive_variables("headers", "secrets")  # resolved: never on an error page
def scrape(service: Service) -> ScrapeReport:
    started = time.monotonic()
    report = ScrapeReport()
    targets = sync_targets(service, report)
    secrets: dict[str, str] = {}
    try:
        headers = placeholders.resolve(service.request_headers, secrets=secrets)
    except placeholders.MissingVariable as exc:
        logger.warning("Scrape of %s: request_headers: %s", service, exc)
        _unscrapable(targets, f"not scraped: request_headers: {exc}")
    else:
        pairs = [(target, target.url) for target in targets]
        results = fetch.fetch_many(
            pairs,
            concurrency=settings.ERRORS_SCRAPE_CONCURRENCY,
            timeout=settings.ERRORS_SCRAPE_TIMEOUT_SECONDS,
            max_bytes=settings.ERRORS_MAX_BODY_BYTES,
            headers=headers,
            follow_redirects=service.follow_redirects,
        )
        for target, result in results:
            _merge(service, target, result, report, secrets)
    Target.objects.bulk_update(targets, TARGET_FIELDS)
    _finish(service, report, time.monotonic() - started)
    answers.refresh(service, changed=report.increment > 0)  # Periskop's answer, once per scrape
    return report


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


def _merge(service, target: Target, result: fetch.FetchResult, report: ScrapeReport,
           secrets: dict[str, str]) -> None:
    target.last_scrape_at, target.duration = timezone.now(), result.duration
    target.status = TargetStatus.UP if result.payload else TargetStatus.DOWN
    # An instance may echo a header back (in a body of the wrong shape, say).
    target.last_error = placeholders.redact(result.error, secrets)
    if result.payload is None:
        return
    target.target_uuid = (result.payload.target_uuid or "")[:100]
    try:
        merged = aggregation.ingest(service, result.payload, target.url)
    except DatabaseError as exc:
        logger.exception("Could not store the errors of %s", target)
        target.status, target.last_error = TargetStatus.DOWN, f"not stored: {exc}"
        return
    report.up += 1
    report.increment += merged.increment


def _finish(service: Service, report: ScrapeReport, duration: float) -> None:
    for problem in report.errors:
        logger.warning("Discovery for %s: %s", service, problem)
    Service.objects.filter(pk=service.pk).update(
        last_scrape_at=timezone.now(),
        last_scrape_duration=duration,
        last_discovery_errors=report.errors,
        scrape_failures=F("scrape_failures") + (report.targets - report.up),
    )

