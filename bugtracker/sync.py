"""
Keeping the Bugzilla bugs of this service in the database, without ever making a
check, the heartbeat or a page wait for Bugzilla.

One search, `whiteboard=<SERVICE_NAME> <ENV_NAME>` (stripped: with no ENV_NAME the
search is just the service name), is upserted into `KnownBug` rows with
tracker=bugzilla. The database holds the last good list, so it survives restarts,
cache flushes and Bugzilla outages.

When it runs:

* `bugtracker.tasks.sync_bugs`, every BUGTRACKER_TTL seconds (at least 60) from
  Celery beat (or the embedded scheduler of `make run`), always asks Bugzilla;
* `bugtracker.tasks.request_sync_if_stale()`, called whenever known bugs are
  shown, costs one cache read while the last sync is fresh (`claim_request()`);
  when it is stale (older than BUGTRACKER_TTL, or than `RETRY_SECONDS` after a
  failure, or never done in this cache), it queues `sync_bugs` (to the workers, or
  the in-process pool) at most once per `REQUEST_SECONDS` and returns at once. A
  request never waits for Bugzilla: it shows what the database has.

A failure (tracker down, too slow, an HTTP error, an answer that is not a well-formed
list of bugs) changes no row: the last good list stays, the failure is logged as a
warning and recorded in the status that the heartbeat reports, and it is retried
after `RETRY_SECONDS` rather than a whole TTL.

Bugs that a successful search no longer returns (their whiteboard lost the service
name, they were made invisible to our API key, or deleted) are not deleted: they get
`missing_since` and are hidden from check results and error groups, while their
admin links are kept; if a later search returns them again they come back. Admin can
filter and delete them.

The status lives in the cache (`STATUS_KEY`, no expiry): `{ok, at, error, bugs,
last_success, url}`. Neither the API key nor any summary is ever logged.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from bugtracker import bugzilla
from bugtracker.models import KnownBug, Tracker

logger = logging.getLogger(__name__)

STATUS_KEY = "bugtracker:sync-status"
RUNNING_KEY = "bugtracker:sync-running"
REQUESTED_KEY = "bugtracker:sync-requested"
RUNNING_SECONDS = 300  # a lock older than this belongs to a dead worker
REQUEST_SECONDS = 60  # a lazily queued sync that never ran is queued again after this
RETRY_SECONDS = 300  # after a failure, try again this soon (or after the TTL if shorter)
BATCH_SIZE = 500

SYNCED_FIELDS = [
    "summary", "status", "is_open", "last_change_time", "whiteboard", "restricted", "url",
    "missing_since", "synced_at",
]


def enabled() -> bool:
    return bool(settings.BUGTRACKER_URL)


def whiteboard_query() -> str:
    return f"{settings.SERVICE_NAME} {settings.ENV_NAME}".strip()


def status() -> dict | None:
    """The outcome of the last sync, or None if there was none (or no cache)."""
    try:
        return cache.get(STATUS_KEY)
    except Exception as exc:  # a cache outage must not break a page
        logger.warning("Cannot read the Bugzilla sync status: %s", type(exc).__name__)
        return None


def is_fresh(state: dict | None, now: datetime | None = None) -> bool:
    if not state or state.get("url") != settings.BUGTRACKER_URL:
        return False
    now = now or timezone.now()
    ttl = settings.BUGTRACKER_TTL
    max_age = ttl if state.get("ok") else min(ttl, RETRY_SECONDS)
    return datetime.fromisoformat(state["at"]) + timedelta(seconds=max_age) > now


def heartbeat_entry() -> str:
    """The heartbeat's "bugzilla" entry, from the last sync's status (no request):
    "ok", "disabled", "not synced yet", or why the last sync failed."""
    if not enabled():
        return "disabled"
    state = status()
    if not state:
        return "not synced yet"
    if state["ok"]:
        return "ok"
    since = state.get("last_success") or "never"
    return f"Bugzilla sync failed at {state['at']}: {state['error']} (last success: {since})"


def claim_request() -> bool:
    """Whether a page should queue a sync now: the last one is stale and none was
    requested within REQUEST_SECONDS. True claims the request for the caller."""
    if not enabled():
        return False
    try:
        if is_fresh(cache.get(STATUS_KEY)):
            return False
        return cache.add(REQUESTED_KEY, True, timeout=REQUEST_SECONDS)  # False: already queued
    except Exception as exc:  # no cache: the page is more important
        logger.warning("Cannot queue a Bugzilla sync: %s", type(exc).__name__)
        return False


def sync(force: bool = True) -> dict | None:
    """Search Bugzilla and store the result; returns the new status (None: skipped).

    With `force=False`, does nothing while the last sync is fresh. Never raises for
    a Bugzilla problem: it is logged and recorded in the status."""
    if not enabled():
        return None
    if not force and is_fresh(status()):
        return None
    token = uuid.uuid4().hex
    if not _safely(cache.add, RUNNING_KEY, token, timeout=RUNNING_SECONDS, default=True):
        logger.info("A Bugzilla sync is already running: skipped")
        return None
    started = time.monotonic()
    try:
        try:
            bugs = bugzilla.search(
                settings.BUGTRACKER_URL, whiteboard_query(), settings.BUGTRACKER_API_KEY
            )
        except bugzilla.BugzillaError as exc:
            return _failed(str(exc))
        try:
            counts = store(bugs)
        except DatabaseError as exc:
            return _failed(f"cannot store the bugs: {type(exc).__name__}")
        logger.info(
            "Bugzilla sync: %d bugs (%d new, %d no longer returned) in %.1f s",
            len(bugs), counts["created"], counts["missing"], time.monotonic() - started,
        )
        return _record(ok=True, bugs=len(bugs))
    finally:
        if _safely(cache.get, RUNNING_KEY) == token:
            _safely(cache.delete, RUNNING_KEY)
        _safely(cache.delete, REQUESTED_KEY)


@transaction.atomic
def store(bugs: list[bugzilla.Bug], now: datetime | None = None) -> dict:
    """Upsert the bugs of a search; mark the Bugzilla bugs it did not return."""
    now = now or timezone.now()
    existing = {
        bug.bug_id: bug
        for bug in KnownBug.objects.filter(tracker=Tracker.BUGZILLA).only(
            "pk", "bug_id", "missing_since", *SYNCED_FIELDS
        )
    }
    to_create, to_update, returned = [], [], set()
    for bug in bugs:
        bug_id = str(bug.id)
        returned.add(bug_id)
        row = existing.get(bug_id) or KnownBug(tracker=Tracker.BUGZILLA, bug_id=bug_id)
        row.summary = bug.summary
        row.status = bug.status
        row.is_open = bug.is_open
        row.last_change_time = bug.last_change_time
        row.whiteboard = bug.whiteboard
        row.restricted = bug.restricted
        row.url = f"{settings.BUGTRACKER_URL}/{bug_id}"[:500]
        row.missing_since = None
        row.synced_at = now
        (to_update if row.pk else to_create).append(row)
    KnownBug.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    KnownBug.objects.bulk_update(to_update, SYNCED_FIELDS, batch_size=BATCH_SIZE)
    gone = [
        row.pk for bug_id, row in existing.items()
        if bug_id not in returned and row.missing_since is None
    ]
    for start in range(0, len(gone), BATCH_SIZE):
        KnownBug.objects.filter(pk__in=gone[start:start + BATCH_SIZE]).update(missing_since=now)
    return {"created": len(to_create), "updated": len(to_update), "missing": len(gone)}


def _failed(error: str) -> dict:
    logger.warning("Bugzilla sync failed, the last good list of known bugs stays: %s", error)
    return _record(ok=False, error=error)


def _record(ok: bool, error: str | None = None, bugs: int | None = None) -> dict:
    previous = status() or {}
    now = timezone.now().isoformat()
    state = {
        "ok": ok,
        "at": now,
        "error": error,
        "bugs": bugs if ok else previous.get("bugs"),
        "last_success": now if ok else previous.get("last_success"),
        "url": settings.BUGTRACKER_URL,
    }
    _safely(cache.set, STATUS_KEY, state, timeout=None)
    return state


def _safely(operation, *args, default=None, **kwargs):
    """A cache operation whose failure is logged: without a cache, syncs still run
    (unlocked) and pages still show the database's bugs."""
    try:
        return operation(*args, **kwargs)
    except Exception as exc:
        logger.warning("Bugzilla sync: cache unavailable (%s)", type(exc).__name__)
        return default
