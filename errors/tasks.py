"""
Celery tasks of the errors app. They take ids, never objects.

* `dispatch_scrapes` (every second, from beat): claims the services whose scrape
  is due (a new service at once: the first scrape is at start, not one interval
  later) and sends one `scrape_service` task each;
* `scrape_service`: one scrape, skipped while another scrape of the same service
  is still running;
* `prune` (hourly): occurrences (but each group's latest), hourly counts,
  resolved groups and the counts of vanished instances older than
  `ERRORS_RETENTION_DAYS`.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from errors import scraper
from errors.models import (
    ErrorGroup,
    GroupStatus,
    HourlyCount,
    Occurrence,
    Service,
    TargetCount,
)
from foundation import locks
from foundation.background import RUN_AGAIN_IF_LOST, enqueue

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_scrapes() -> int:
    due = claim_due(timezone.now())
    for service_id in due:
        enqueue(scrape_service, service_id)
    return len(due)


@transaction.atomic
def claim_due(now) -> list[int]:
    """Ids of the services due for a scrape; their next scrape moves on (SKIP LOCKED)."""
    due = list(
        Service.objects.filter(enabled=True)
        .filter(Q(next_scrape_at__isnull=True) | Q(next_scrape_at__lte=now))
        .select_for_update(skip_locked=True)
        .only("pk", "refresh_interval")
    )
    for service in due:
        service.next_scrape_at = now + timedelta(seconds=service.refresh_interval)
    Service.objects.bulk_update(due, ["next_scrape_at"])
    return [service.pk for service in due]


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def scrape_service(service_id: int) -> None:
    service = Service.objects.filter(pk=service_id, enabled=True).first()
    if service is None:
        return
    # Without a cache, scrapes may overlap, which aggregation tolerates.
    lock = locks.lock(f"errors:scrape:{service_id}", max(service.refresh_interval * 4, 60))
    if not locks.try_acquire(lock):
        logger.info("Scrape of %s still running: skipped", service)
        return
    try:
        scraper.scrape(service)
    finally:
        locks.release(lock)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def prune() -> dict:
    cutoff = timezone.now() - timedelta(days=settings.ERRORS_RETENTION_DAYS)
    deleted = {
        "occurrences": Occurrence.objects.prunable(cutoff).delete()[0],
        "hourly": HourlyCount.objects.filter(hour__lt=cutoff).delete()[0],
        # A resolved group goes only once no instance reports its key any more:
        # otherwise its key would come back as a new group, counted from zero.
        "groups": ErrorGroup.objects.filter(status=GroupStatus.RESOLVED, resolved_at__lt=cutoff)
        .exclude(target_counts__seen_at__gte=cutoff)
        .delete()[0],
        "instance_counts": TargetCount.objects.filter(seen_at__lt=cutoff).delete()[0],
    }
    logger.info("Pruned errors older than %d days: %s", settings.ERRORS_RETENTION_DAYS, deleted)
    return deleted
