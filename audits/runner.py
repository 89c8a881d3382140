"""
The one way a check runs, whoever asks (web request, CLI, worker).

`run_check()`:

1. resolves the parameters (`${VAR}` from the environment, URL overrides, casts);
2. returns the cached result when it is fresh (the cache key hashes the module and
   the parameters, so it never exposes them);
3. otherwise takes the check's lock, so that concurrent callers share one run: the
   others wait for its result instead of running the check again;
4. runs the module in a check process (`audits.execution`), stopped at the time
   limit (`CHECK_TIMEOUT_SECONDS`); an exception, `SystemExit` included, is a
   crashed result (`success: false`, the error in `data`), never a dead or wedged
   server; the data comes back JSON-safe and capped (`audits.check_data`);
5. takes resolved secrets back out of the data, caches it for the check's TTL
   (`ttl = 0`: never), logs it and updates the metrics.

What a run derives from the check (its module, parameters, cache key and plot
path) is derived once, in a `Job`, and the value to plot once, on the `Result`:
the log, the history and the state all read them from there.

Each real run (not a cached or shared result, nor a run with URL overrides) is then
stored in the history, a check that could not even start (an unset `${VAR}`, a
module gone or not allowed, a parameter that no longer casts) as a crashed run,
and may change the check's state (`audits.states`).

`run_checks()` runs several at once, at most `LIMIT_GLOBAL_CONCURRENCY` at a time,
the same steps for a batch from one thread: one cache read, one round of locks,
the runs sent to the check processes in one message each, one cache write for the
results that end together, and their history in one insert.

A caller that has the run done elsewhere (a request of the distributed mode, whose
checks the workers run: `audits.answers`) takes the `Job` from `cached_or_job()`,
claims its run with `claim_run()` so that concurrent callers queue it once, and
reads the results the runners store with `read_many()`.

The cache is an optimisation, never a dependency: when it fails (Redis down), the
check runs inline, without the lock, and the API keeps answering.
"""

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, transaction
from django.views.decorators.debug import sensitive_variables

from audits import definitions, events, execution, history, metrics, plot_value, states
from audits.checkmodules import CheckModule, ModuleError
from audits.models import Check, prefetch_parents
from audits.params import ParamError
from foundation import locks, placeholders

logger = logging.getLogger("check.result")

POLL_SECONDS = 0.05
# How long a result that must not be cached (ttl = 0, or a crash) stays readable
# by the callers that were waiting for that very run.
SHARED_SECONDS = 10
# Frames that hold resolved parameters show none of them on an error page.
_hide_resolved = sensitive_variables("params", "secrets", "job")


@dataclass(frozen=True)
class Result:
    datetime: str  # ISO 8601, UTC, when the run started
    success: bool
    data: Any
    duration: int  # milliseconds
    crashed: bool = False
    # True for the caller that ran it, not for cached or shared copies.
    ran: bool = field(default=False, compare=False)
    # The number at the check's plot path in `data` (None: none, or a crash).
    scalar: float | None = field(default=None, compare=False)
    # When the result was stored in the cache for its TTL (time.time()); None when
    # it was not (ttl = 0, a crash, the cache down): what a cached answer is tied to.
    stored_at: float | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        return {
            "datetime": self.datetime,
            "success": self.success,
            "data": self.data,
            "duration": self.duration,
        }


@dataclass(frozen=True)
class Job:
    """One run of a check, with what it needs derived once."""

    check: Check
    module: CheckModule
    params: dict  # resolved and cast
    secrets: dict  # the resolved values, to take back out of the data
    key: str  # the cache key
    plot_path: str | None


def run_check(
    check: Check, *, force=False, overrides: dict | None = None, store=True
) -> Result:
    """The result of `check`: cached when fresh, else from one shared run."""
    result = _result_of(check, force, overrides)
    if store and result.ran and not overrides:
        after_runs([(check, result)])
    return result


def cached_or_job(check: Check, *, force=False, overrides: dict | None = None) -> Result | Job:
    """What `run_check` answers without running anything (the fresh cached result,
    or why the check cannot run), else the `Job` to have run."""
    return _result_of(check, force, overrides, defer=True)


def run_checks(checks, *, force=False, progress=None, scheduled_for=None) -> list[Result]:
    """
    The results of `checks`, in order, run in parallel; `progress(done, total)`
    is called as each one finishes.

    Whatever the number of checks, one thread coordinates them (`_run_batch`):
    one cache read, one round of locks, the runs sent to the check processes in
    one message each, the results of runs that end together stored with one cache
    write, and the history in one insert.
    """
    checks = list(checks)
    jobs = [job_of(check) for check in checks]
    results: list = [None] * len(checks) if force else _cached_many(jobs)
    for index, job in enumerate(jobs):
        if isinstance(job, Exception):  # a crashed run, as run_check() gives it
            results[index] = run_check(checks[index], force=force, store=False)
    missing = [index for index, result in enumerate(results) if result is None]
    done = len(checks) - len(missing)
    if progress and done:
        progress(done, len(checks))
    for position, result in _run_batch([jobs[i] for i in missing], force):
        results[missing[position]] = result
        done += 1
        if progress:
            progress(done, len(checks))
    after_runs([p for p in zip(checks, results) if p[1].ran], scheduled_for)
    return results


def _cached_many(jobs: list) -> list[Result | None]:
    """The fresh cached results of `jobs`, in one cache call (None: none)."""
    keys = [job.key for job in jobs if isinstance(job, Job) and job.check.get_ttl() > 0]
    entries = _cache_call("get_many", keys) or {} if keys else {}
    return [
        _from_entry(entries.get(job.key), since=None) if isinstance(job, Job) else None
        for job in jobs
    ]


@_hide_resolved
def _run_batch(jobs: list[Job], force: bool):
    """
    (position, result) of each of `jobs` as it ends, run at most
    LIMIT_GLOBAL_CONCURRENCY at a time, each under its lock as `_run_locked` runs
    one. The checks whose locks another caller holds wait for that caller's run,
    each on a thread of the coordination pool, meanwhile.
    """
    if not jobs:
        return
    waiting_since = time.time()
    held = _lock_many(jobs)
    mine = [position for position in range(len(jobs)) if position in held]
    pool = _pool("coordination", max(64, 4 * settings.LIMIT_GLOBAL_CONCURRENCY))
    theirs = {position: pool.submit(_run_in_worker, jobs[position].check, force)
              for position in range(len(jobs)) if position not in held}
    try:
        # Stored by another caller between our cache read and our lock.
        shared = read_many({jobs[position].key: waiting_since for position in mine}) if held else {}
        for position in mine:
            if jobs[position].key in shared:
                yield position, shared[jobs[position].key]
        todo = [position for position in mine if jobs[position].key not in shared]
        for ended in _execute_many([jobs[position] for position in todo]):
            stored = _store_many([(jobs[todo[i]], result) for i, result in ended])
            locks.release_many([held.pop(todo[i]) for i, _ in ended])
            yield from ((todo[i], result) for (i, _), result in zip(ended, stored))
    finally:
        locks.release_many(held.values())
    for position, future in theirs.items():
        yield position, future.result()


def _lock_many(jobs: list[Job]) -> dict:
    """The locks of `jobs` that were free, now ours, by position (all of them
    when locking is off)."""
    if not settings.CACHE_LOCK_ENABLED:
        return dict.fromkeys(range(len(jobs)))  # nothing to release
    wanted = {position: locks.lock(job.key, settings.REDIS_LOCK_TIMEOUT_SECONDS)
              for position, job in enumerate(jobs)}
    return locks.try_acquire_many(wanted)


def after_runs(pairs, scheduled_for: dict | None = None) -> None:
    """History and state changes of real runs; never fails the caller."""
    if not pairs:
        return
    try:
        with transaction.atomic():  # one transaction, not one per statement
            pairs = _own_rows(pairs)
            # The dependencies that may block a failure, judged by this batch's results.
            prefetch_parents([c for c, r in pairs if not r.success], _outcomes(pairs))
            history.record(pairs, scheduled_for)
            # Rows in id order: concurrent batches then never lock them crosswise.
            changes = states.update_many(sorted(pairs, key=lambda pair: pair[0].pk))
    except DatabaseError:
        logger.exception("Could not store the history of %d runs", len(pairs))
        return
    results = {check.pk: result for check, result in pairs}
    for check, change in changes:
        try:
            events.emit(check, change, results[check.pk])
        except Exception:  # an alert channel down must not fail the answer
            logger.exception("Could not send the event of %s", check)


def _own_rows(pairs):
    """`pairs` with the shared copies of checks (`audits.definitions`) replaced by
    their rows, read now: the history compares a run with the last one stored, and
    the state is written on the check, which no other thread may see half done."""
    shared = {check.pk for check, _ in pairs if definitions.MEMO in check.__dict__}
    if not shared:
        return pairs
    rows = {
        row["pk"]: row
        for row in Check.objects.filter(pk__in=shared).values("pk", *RUN_STATE_READ)
    }
    own = []
    for check, result in pairs:
        if check.pk in shared:
            if check.pk not in rows:
                continue  # deleted meanwhile: nothing to store
            check = _copy_with(check, rows[check.pk])
        own.append((check, result))
    return own


# What the history and the state of a run compare with: read from the row.
RUN_STATE_READ = ("alert_state", "consecutive_failures", "last_run_at", "last_success",
                  "last_crashed", "last_scalar")


def _copy_with(check: Check, row: dict) -> Check:
    """A private copy of a shared check, with the run state of its row."""
    copy = Check.__new__(Check)
    copy.__dict__.update(check.__dict__)
    del copy.__dict__[definitions.MEMO]
    copy.__dict__.update((name, row[name]) for name in RUN_STATE_READ)
    return copy


def _outcomes(pairs) -> dict[int, bool]:
    return {check.pk: result.success for check, result in pairs}


def cache_key(check: Check, params: dict) -> str:
    identity = [check.project, check.name, check.module, params]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return f"check:v1:{digest.hexdigest()}"


def claim_run(key: str, seconds: float) -> tuple[bool, float] | None:
    """
    Mark a run of `key` as queued for `seconds` at most, so that concurrent callers
    queue it once: (True, now) for the caller that must queue it, (False, when it
    was queued) for the others, who wait for the same run; None when the cache is
    down (or keeps changing under us), and nobody could read the run's result.
    """
    name = f"queued:{key}"
    for _ in range(3):
        now = time.time()
        added = _cache_call("add", name, now, timeout=seconds)
        if added is None:
            return None
        if added:
            return True, now
        queued_at = _cache_call("get", name)
        if queued_at is not None:
            return False, queued_at
    return None  # released as fast as it was claimed: see release_claims()


def release_claims(keys) -> None:
    """Forget the queued runs of `keys`, whose results came: the next caller after a
    result that is not cached (ttl = 0, a crash) queues a new run."""
    _cache_call("delete_many", [f"queued:{key}" for key in keys])


def read_many(since: dict[str, float]) -> dict[str, Result]:
    """The results stored under the keys of `since`, each finished after its time."""
    entries = _cache_call("get_many", list(since)) or {}
    found = {key: _from_entry(entry, since[key]) for key, entry in entries.items()}
    return {key: result for key, result in found.items() if result}


@_hide_resolved
def _result_of(check: Check, force: bool, overrides: dict | None, defer=False) -> Result | Job:
    job = job_of(check, overrides)
    if isinstance(job, Exception):
        # A check that cannot run is a crashed run like any other (history, state,
        # alert), never cached: fixing the config or environment fixes the next run.
        crash = _record(check, None, _now(), 0, False, f"Cannot run the check: {job}", True)
        return replace(crash, ran=True)
    if not force and check.get_ttl() > 0:
        cached = _read(job.key, since=None)
        if cached:
            return cached
    if defer:
        return job  # run elsewhere: see cached_or_job()
    if not settings.CACHE_LOCK_ENABLED:
        return _run_and_store(job)
    return _run_locked(job)


def job_of(check: Check, overrides: dict | None = None) -> Job | Exception:
    """The `Job` of a run of `check`, or why it cannot run (the exception). Derived once per
    version for a shared copy without overrides nor placeholders: neither its
    parameters nor the environment then change what it resolves to."""
    memo = check.__dict__.get(definitions.MEMO)
    if memo and not overrides and "job" in memo:
        return memo["job"]  # the hot path of cached answers: nothing else to do
    if overrides or placeholders.contains(check.params):
        return _new_job(check, overrides)
    return definitions.memoized(check, "job", lambda: _new_job(check, None))


@_hide_resolved
def _new_job(check: Check, overrides: dict | None) -> Job | Exception:
    secrets: dict[str, str] = {}
    try:
        module = check.check_module
        params = check.runtime_params(overrides, secrets, module=module)
    except (ParamError, ModuleError, placeholders.MissingVariable) as exc:
        return exc
    return Job(check, module, params, secrets, cache_key(check, params), check.get_plot_path(module))


def _run_in_worker(check: Check, force: bool) -> Result:
    try:
        return run_check(check, force=force, store=False)
    finally:
        connections.close_all()  # worker threads must not leak connections


@_hide_resolved
def _run_locked(job: Job) -> Result:
    lock = locks.lock(job.key, settings.REDIS_LOCK_TIMEOUT_SECONDS)
    waiting_since = time.time()
    deadline = time.monotonic() + settings.REDIS_LOCK_BLOCKING_TIMEOUT_SECONDS
    while not locks.try_acquire(lock):
        time.sleep(POLL_SECONDS)
        shared = _read(job.key, since=waiting_since)
        if shared:
            return shared
        if time.monotonic() > deadline:
            logger.warning("Gave up waiting for the lock of %s; running it", job.check)
            return _run_and_store(job)
    try:
        return _read(job.key, since=waiting_since) or _run_and_store(job)
    finally:
        locks.release(lock)


def _read(key: str, since: float | None) -> Result | None:
    """
    The stored result under `key`: a fresh cached one (`since` None), or one
    finished after `since`, for callers that waited for another caller's run.
    """
    return _from_entry(_cache_call("get", key), since)


def _from_entry(entry: dict | None, since: float | None) -> Result | None:
    if entry is None:
        return None
    if since is None and entry["shared_only"]:
        return None
    if since is not None and entry["stored_at"] < since:
        return None
    stored_at = None if entry["shared_only"] else entry["stored_at"]
    return Result(**{**entry["result"], "ran": False}, stored_at=stored_at)


@_hide_resolved
def _run_and_store(job: Job) -> Result:
    return _store_many([(job, next(_execute_many([job]))[0][1])])[0]


def _store_many(pairs: list[tuple[Job, Result]]) -> list[Result]:
    """Cache the results of `pairs` for their checks' TTLs (one write per TTL),
    then renew the generations of their projects and tags (one write); the
    results as their runner returns them."""
    by_timeout: dict[int, dict] = {}
    stored = []
    now = time.time()
    for job, result in pairs:
        ttl = job.check.get_ttl()
        cacheable = ttl > 0 and not result.crashed
        entry = {
            # No scalar nor stored_at (only this caller uses them): the cached form
            # stays the one older processes sharing this cache (a rolling deploy) read.
            "result": {**result.as_dict(), "crashed": result.crashed, "ran": result.ran},
            "stored_at": now,
            "shared_only": not cacheable,
        }
        by_timeout.setdefault(ttl if cacheable else SHARED_SECONDS, {})[job.key] = entry
        stored.append(replace(result, ran=True, stored_at=now if cacheable else None))
    for timeout, entries in by_timeout.items():
        _cache_call("set_many", entries, timeout=timeout)
    # After the results: a reader that saw the old generation re-renders for
    # nothing, never keeps an answer of the old results under the new generation.
    generations = {key for job, _ in pairs for key in generation_keys(job.check)}
    _cache_call("set_many", dict.fromkeys(generations, uuid.uuid4().hex), timeout=None)
    return stored


def generation_keys(check: Check) -> list[str]:
    """The cache keys that change with every result stored for a check of its
    project, or of each of its tags: what a cached answer for a project or tags
    (`audits.api.cached`) checks it still holds the results of."""
    return [f"generation:project:{check.project}",
            *(f"generation:tag:{tag}" for tag in _tag_names(check))]


def _tag_names(check: Check) -> list[str]:
    return definitions.memoized(check, "tags", check.tag_names)


def _cache_call(method: str, *args, **kwargs):
    """A cache operation that degrades to "nothing cached" when the cache is down."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception as exc:  # redis-py raises many types; none may fail a check
        logger.warning("Cache unavailable (%s: %s); running without it", type(exc).__name__, exc)
        return None


@_hide_resolved
def _execute_many(jobs: list[Job]):
    """Run `jobs` in the check processes, at most LIMIT_GLOBAL_CONCURRENCY at
    once, and yield the lists of (position, Result) of those that end together."""
    limit = settings.CHECK_TIMEOUT_SECONDS
    calls = [(job.module.path, job.params, limit, job.secrets) for job in jobs]
    window = max(1, min(len(jobs), settings.LIMIT_GLOBAL_CONCURRENCY))
    for ended in execution.call_many(calls, window):
        yield [(position, _result(jobs[position], started, outcome))
               for position, started, outcome in ended]


@_hide_resolved
def _result(job: Job, started: float, outcome: execution.Outcome) -> Result:
    crashed = False
    try:
        success, data = outcome.value()
    except execution.CheckTimeout:
        success, data = False, f"Timed out after {settings.CHECK_TIMEOUT_SECONDS:g} s"
    except execution.CheckCrash as exc:  # a broken check must not take the service down
        trace = placeholders.redact(exc.trace or str(exc), job.secrets)
        logger.warning("Check %s crashed: %s", job.check, trace)
        success, data, crashed = False, str(exc), True
    data = placeholders.redact(data, job.secrets)
    duration = round((time.time() - started) * 1000)
    started_at = datetime.fromtimestamp(started, timezone.utc).isoformat()
    return _record(job.check, job.plot_path, started_at, duration, success, data, crashed)


def _pool(name: str, size: int) -> ThreadPoolExecutor:
    """
    The process's long-lived pool of threads `name`: they wait for the check
    processes (`audits.execution`), and keep their cache (Redis) connections from
    one call to the next.
    """
    with _pools_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(size, thread_name_prefix=f"checks-{name}")
        return _pools[name]


def _forget_pools_after_fork() -> None:
    global _pools_lock
    _pools.clear()  # a forked child has none of its parent's threads
    _pools_lock = threading.Lock()


_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
os.register_at_fork(after_in_child=_forget_pools_after_fork)


def _record(check, plot_path, started_at, duration, success, data, crashed) -> Result:
    scalar = None if crashed else plot_value.extract(data, plot_path)
    result = Result(started_at, success, data, duration, crashed, scalar=scalar)
    outcome = "crash" if crashed else ("success" if success else "failure")
    labels = {"project": check.project, "check": check.name}
    metrics.CHECK_RUN_DURATION.labels(**labels).observe(duration / 1000)
    metrics.CHECK_RUNS.labels(**labels, outcome=outcome).inc()
    if not logger.isEnabledFor(logging.INFO):
        return result  # the log line's data would be serialised for nothing
    logger.info(
        "",
        extra={
            "time": started_at,
            "project": check.project,
            "check": check.name,
            "tags": _tag_names(check),
            "success": success,
            "data": json.dumps(data),
            "plot": scalar,
        },
    )
    return result


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
