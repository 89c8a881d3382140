"""
Celery tasks of the audits. They take ids, never objects.

* `dispatch_refreshes` (every REFRESH_DISPATCH_SECONDS, from beat): cheap; claims
  the refreshes due soon and fans them out as `run_checks_batch` tasks of
  REFRESH_BATCH_SIZE ids, each sent for the time its first check is due;
* `run_checks_batch`: runs a batch in parallel, stores history in bulk;
* `run_check` (queued by `POST /checks/{project}/{name}/runs`) and
  `run_scheduled_check` (a check's own schedule): run one check now;
* `run_requested`: the runs a request is waiting for (`audits.answers`, the
  distributed mode): run now, in parallel, their results cached for the request;
* `prune_history` (hourly): deletes runs older than HISTORY_DAYS.

The task that POSTs a state change to a webhook is `audits.events.send_webhook`.
"""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audits import history, metrics, refresh, runner
from audits.models import Check
from foundation.background import RUN_AGAIN_IF_LOST, enqueue

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_refreshes() -> int:
    if not settings.REFRESH_AHEAD:
        return 0
    now = timezone.now()
    horizon = timedelta(seconds=settings.REFRESH_DISPATCH_SECONDS * 2)
    claimed = refresh.claim_due(now, horizon)
    size = settings.REFRESH_BATCH_SIZE
    for start in range(0, len(claimed), size):
        batch = claimed[start : start + size]
        eta = batch[0][1] if batch[0][1] > now else None
        ids, due = [c[0] for c in batch], [c[1].isoformat() for c in batch]
        enqueue(run_checks_batch, ids, due, eta=eta)
    return len(claimed)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def run_checks_batch(check_ids: list[int], due: list[str] | None = None) -> None:
    scheduled = dict(zip(check_ids, map(datetime.fromisoformat, due or [])))
    checks = list(_checks(check_ids))
    _observe_lag(scheduled)
    runner.run_checks(checks, force=True, scheduled_for=scheduled)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def run_check(check_id: int) -> None:
    for check in _checks([check_id]):
        runner.run_check(check, force=True)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def run_requested(check_ids: list[int], overrides: dict | None = None) -> None:
    # Forced: the request found no fresh result, and waits for one stored after it
    # queued this run (a run in flight is shared, through the runner's lock).
    checks = list(_checks(check_ids))
    if overrides:  # one check, with URL parameters: no history, as in the web process
        for check in checks:
            runner.run_check(check, force=True, overrides=overrides)
        return
    runner.run_checks(checks, force=True)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def run_scheduled_check(check_id: int) -> None:
    if not _checks([check_id]).exists():
        logger.warning("Scheduled check %s no longer exists or is disabled", check_id)
        return
    run_check(check_id)


@shared_task(ignore_result=True, **RUN_AGAIN_IF_LOST)
def prune_history() -> int:
    deleted = history.prune()
    logger.info("Pruned %d check runs older than %d days", deleted, settings.HISTORY_DAYS)
    return deleted


def _checks(ids):
    return Check.objects.enabled().filter(pk__in=ids).prefetch_related("tags")


def _observe_lag(scheduled: dict) -> None:
    now = timezone.now()
    for due_at in scheduled.values():
        metrics.REFRESH_LAG.observe(max((now - due_at).total_seconds(), 0))
