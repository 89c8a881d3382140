"""
Celery tasks of the errors app. They take ids, never objects.

* `dispatch_scrapes` (every second, from beat): claims the services whose scrape
  is due (a new service at once: the first scrape is at start, not one interval
  later) and sends one `scrape_service` task each;
* `scrape_service`: one scrape, skipped while another scrape of the same service
  is still being planned. It discovers the service's targets; up to
  `ERRORS_SCRAPE_SHARD_SIZE` of them it scrapes itself, more it hands out as
  `scrape_shard` tasks of that many target ids each, so that every worker takes
  a share of one large service (in the embedded mode, the in-process pool does);
* `scrape_shard`: the scrape of one shard's targets (errors.scraper.scrape_targets:
  targets still held by another scrape are left to it);
* `prune` (hourly): occurrences (but each group's latest), hourly counts,
  resolved groups and the counts of vanished instances older than
  `ERRORS_RETENTION_DAYS`.
"""

import logging
import time
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
    lock = locks.lock(f"errors:scrape:{service_id}", scraper.lock_seconds(service))
    if not locks.try_acquire(lock):
        logger.info("Scrape of %s still running: skipped", service)
        return
    try:
        started = time.time()
        _, shards = scraper.plan(service)
        if len(shards) == 1:  # a small service: no task hop
            scraper.scrape_targets(service, shards[0], scraper.new_token(), started=started)
            return
        for target_ids in shards:
            enqueue(scrape_shard, service_id, target_ids, scraper.new_token(), started)
    finally:
        locks.release(lock)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def scrape_shard(service_id: int, target_ids: list[int], token: str, started: float) -> None:
    """Scrape the targets `target_ids` of a service; `token` claims them (the same
    task run again takes its own claim back); `started`: when the scrape began."""
    service = Service.objects.filter(pk=service_id, enabled=True).first()
    if service is not None:
        scraper.scrape_targets(service, target_ids, token, started=started)


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
