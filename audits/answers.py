"""
The results a request for checks answers with, and where their runs happen.

In the embedded mode (tasks run in this process) the runner runs them here, in
this process's check processes, as the CLI (`manage.py audit`) does in either
mode. In the distributed mode the process that serves requests runs no check
code: a check is code the service does not control, and the workers are where it
runs (hard time limits, processes replaced), so a hanging or greedy check never
takes a web process's CPU, memory or processes. There:

* a fresh cached result is answered at once (`runner.cached_or_job`);
* each check that has none is claimed in the cache (`runner.claim_run`): the
  request that claims it queues a `run_requested` task, in batches of
  REFRESH_BATCH_SIZE checks so that a cold project runs in parallel on the
  workers; concurrent requests that find it claimed queue nothing and wait for
  the same run;
* the request reads the results from the cache as the workers store them
  (`runner.read_many`), for CHECK_TIMEOUT_SECONDS + WAIT_GRACE_SECONDS at most: a
  check whose result has not come by then is answered as crashed, "No worker
  answered within N s" (a 500), never a request that hangs.

When the cache or the queue cannot be reached (Redis down or frozen), the checks
run here after all, in this process's check processes, as the runner does without
a cache: the API keeps answering. That includes a request already waiting when
Redis fails: no result could reach it through the cache any more, so it stops
waiting and runs the checks it still lacks here.
"""

import logging
import time
from datetime import datetime, timezone

from django.conf import settings

from audits import runner, tasks
from audits.models import Check
from audits.runner import Job, Result
from foundation.background import enqueue, runs_here
from foundation.cache import breaker

logger = logging.getLogger(__name__)

# What a run may take beyond its time limit to reach the request: the task's
# trip through the queue, the check loaded on the worker, the result stored.
WAIT_GRACE_SECONDS = 5


def result(check: Check, *, force=False, overrides: dict | None = None) -> Result:
    """The result of one check for a request (`force`: not the cached one)."""
    if runs_here(tasks.run_requested):
        return runner.run_check(check, force=force, overrides=overrides)
    return _from_workers([check], force, overrides)[0]


def results(checks) -> list[Result]:
    """The results of `checks` for a request, in order, run in parallel."""
    if runs_here(tasks.run_requested):
        return runner.run_checks(checks)
    return _from_workers(list(checks), False, None)


def _from_workers(checks: list, force: bool, overrides: dict | None) -> list[Result]:
    found = [runner.cached_or_job(c, force=force, overrides=overrides) for c in checks]
    cannot_run = [(c, r) for c, r in zip(checks, found) if not isinstance(r, Job) and r.ran]
    if cannot_run and not overrides:
        runner.after_runs(cannot_run)  # crashed runs, stored as run_check stores them
    jobs = [job for job in found if isinstance(job, Job)]
    done = _wait_for(jobs, overrides) if jobs else {}
    return [done[r.key] if isinstance(r, Job) else r for r in found]


def _wait_for(jobs: list[Job], overrides: dict | None) -> dict[str, Result]:
    """The results of `jobs` by key: from the workers, else run here, else failures."""
    limit = settings.CHECK_TIMEOUT_SECONDS + WAIT_GRACE_SECONDS
    since, claimed, here = {}, [], []
    for job in jobs:
        claim = runner.claim_run(job.key, limit)
        if claim is None:  # the cache is down: no result could come back through it
            here.append(job)
            continue
        since[job.key] = claim[1]
        if claim[0]:
            claimed.append(job)
    here += _queue(claimed, overrides)
    done = _run_here(here, overrides) if here else {}
    done.update(_arrivals({k: t for k, t in since.items() if k not in done}, limit))
    lacking = [job for job in jobs if job.key not in done]
    if lacking and breaker.down:  # Redis failed while we waited: see the docstring
        logger.warning("The cache failed while %d runs were awaited; running them here",
                       len(lacking))
        done.update(_run_here(lacking, overrides))
    return {job.key: done.get(job.key) or _not_answered(job, limit) for job in jobs}


def _queue(jobs: list[Job], overrides: dict | None) -> list[Job]:
    """Queue the runs of `jobs` on the workers; those that could not be queued."""
    size = settings.REFRESH_BATCH_SIZE
    failed = []
    for start in range(0, len(jobs), size):
        batch = jobs[start : start + size]
        try:
            enqueue(tasks.run_requested, [job.check.pk for job in batch], overrides)
        except Exception as exc:  # the broker is down: kombu raises many types
            logger.warning("Cannot queue %d runs (%s: %s); running them here",
                           len(batch), type(exc).__name__, exc)
            failed += batch
    return failed


def _run_here(jobs: list[Job], overrides: dict | None) -> dict[str, Result]:
    """Run `jobs` in this process's check processes, in parallel, as the embedded
    mode does."""
    if overrides:  # one check, asked with URL parameters: no history
        return {job.key: runner.run_check(job.check, force=True, overrides=overrides)
                for job in jobs}
    ran = runner.run_checks([job.check for job in jobs], force=True)
    return {job.key: result for job, result in zip(jobs, ran)}


def _arrivals(since: dict[str, float], limit: float) -> dict[str, Result]:
    """The results stored under the keys of `since` after their times, as they come,
    until all came, `limit` seconds passed or the cache failed."""
    deadline = time.monotonic() + limit
    waiting, arrived = dict(since), {}
    while waiting and time.monotonic() < deadline and not breaker.down:
        time.sleep(runner.POLL_SECONDS)
        found = runner.read_many(waiting)
        if found:
            runner.release_claims(found)
        for key in found:
            del waiting[key]
        arrived.update(found)
    return arrived


def _not_answered(job: Job, limit: float) -> Result:
    message = f"No worker answered within {limit:g} s"
    logger.warning("%s: %s (are the Celery workers running, and not all busy?)",
                   job.check, message)
    now = datetime.now(timezone.utc).isoformat()
    return Result(now, False, message, round(limit * 1000), crashed=True)
