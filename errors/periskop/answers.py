"""
Periskop's answer to `GET /services/{service}/errors/`, rendered once and served
as bytes.

With 10,000 groups the answer is about a megabyte, and building it from the
database cost over a second a request: sixteen readers starved the service.
So it is rendered once after each change (`render`: at the end of every scrape
that changed a count; a push, a resolve, an unresolve or an ignore marks it stale
and the next reader renders it) and stored in `PeriskopAnswer`, in the database, which every process
and machine shares. Each process keeps the last answer it served of each service
in memory (at most two per service, each replaced by a newer one), so a request
costs one small query, to learn that it is still current, and no copy of its
bytes; a client that accepts gzip gets a compressed copy, compressed once.

* `render(service)` builds the answer from the active groups, a few hundred at a
  time (memory does not grow with the service), and stores it;
* `answer_for(name)` (and `answer(service)`) gives the stored bytes, rendering
  them first if they are stale or missing. One process renders at a time (a lock per service and
  variant); meanwhile the others serve the previous answer, or, when there is
  none yet, wait for it a moment and then render it themselves.

Two variants are kept: without request bodies (for anyone) and with them (for
staff and API token holders, or for everyone with `ERRORS_PUBLIC_BODIES`).
Credential headers are masked in both (`Occurrence.shown_http_context`).
"""

import gzip
import json
import logging
import threading
import time

from django.db import DatabaseError
from django.utils import timezone

from errors.models import ErrorGroup, GroupStatus, PeriskopAnswer, Service
from foundation import locks

logger = logging.getLogger(__name__)
MAX_OCCURRENCES = 100
CHUNK = 500
# A reader with no answer to serve waits this long for another's rendering.
WAIT_SECONDS = 10.0
RENDER_LOCK_SECONDS = 120.0
# Fast, and most of the size goes anyway: the answer repeats its field names.
GZIP_LEVEL = 5


def render(service: Service, with_bodies: bool = False) -> bytes:
    """Render and store the service's answer; its bytes."""
    return render_held(service, with_bodies)[1]


def render_held(service: Service, with_bodies: bool = False) -> tuple:
    """Render and store the service's answer: (when its reading started, its bytes)."""
    started = timezone.now()
    groups = (
        ErrorGroup.objects.active(started).filter(service=service)
        .order_by("-last_seen", "-pk").prefetch_related("occurrences")
    )
    parts = [b"["]
    for i, group in enumerate(groups.iterator(chunk_size=CHUNK)):
        if i:
            parts.append(b",")
        parts.append(_dumps(periskop_group(group, with_bodies)))
    parts.append(b"]")
    body = b"".join(parts)
    PeriskopAnswer.objects.update_or_create(
        service=service, with_bodies=with_bodies,
        defaults={"body": body, "rendered_from": started, "valid_until": _valid_until(service, started)},
    )
    return started, body


def refresh(service: Service, changed: bool = True) -> None:
    """After a scrape: the public answer rendered now, the others when
    next read; nothing when the scrape `changed` nothing (no count grew: a client
    sends new samples only with new errors) and the answer is current, since
    rendering a big service costs a second of CPU. A failure leaves the answer
    stale (readers render it), never fails the scrape that called this."""
    try:
        if not changed and _is_current(service):
            return
        PeriskopAnswer.invalidate(service.pk)
        render(service)
    except DatabaseError:
        logger.exception("Could not render Periskop's answer for %s", service)


def answer_for(name: str, with_bodies: bool, gzipped: bool = False) -> bytes | None:
    """The current answer of the service called `name` (gzip-compressed if
    `gzipped`), None if there is no such service. One query while this process
    holds the current answer in memory: the answer's state, found by the name."""
    stored = _stored(service__name=name, with_bodies=with_bodies)
    if stored is not None and stored.is_current(timezone.now()):
        return _held(stored).content(gzipped)
    service = Service.objects.only("pk", "name").filter(name=name).first()
    return None if service is None else answer(service, with_bodies, gzipped)


def answer(service: Service, with_bodies: bool, gzipped: bool = False) -> bytes:
    """The stored answer, current (gzip-compressed if `gzipped`); rendered first
    if needed (see the docstring)."""
    deadline = time.monotonic() + WAIT_SECONDS
    key = (service.pk, with_bodies)
    while True:
        stored = _stored(service=service, with_bodies=with_bodies)
        if stored is not None and stored.is_current(timezone.now()):
            return _held(stored).content(gzipped)
        lock = locks.lock(f"errors:periskop:{service.pk}:{int(with_bodies)}", RENDER_LOCK_SECONDS)
        if locks.try_acquire(lock):
            try:
                return _hold(key, *render_held(service, with_bodies)).content(gzipped)
            finally:
                locks.release(lock)
        if stored is not None and stored.rendered_from is not None:
            return _held(stored).content(gzipped)  # the previous answer, while another renders
        if time.monotonic() > deadline:
            return _hold(key, *render_held(service, with_bodies)).content(gzipped)
        time.sleep(0.05)


def _stored(**lookups) -> PeriskopAnswer | None:
    """The answer's state, without its bytes (this process may hold them)."""
    fields = ("service_id", "with_bodies", "rendered_from", "invalidated_at", "valid_until")
    found = list(PeriskopAnswer.objects.filter(**lookups).only(*fields)[:1])
    return found[0] if found else None


class _Held:
    """One answer in this process's memory, and its gzip-compressed copy, made once."""

    def __init__(self, rendered_from, body: bytes):
        self.rendered_from = rendered_from
        self.body = body
        self._gzipped = None
        self._lock = threading.Lock()

    def content(self, gzipped: bool) -> bytes:
        if not gzipped:
            return self.body
        with self._lock:
            if self._gzipped is None:
                self._gzipped = gzip.compress(self.body, GZIP_LEVEL)
            return self._gzipped


# (service id, with bodies) -> the answer last served by this process: at most two
# per service, replaced when a newer one is read.
_MEMORY: dict[tuple[int, bool], _Held] = {}


def _held(stored: PeriskopAnswer) -> _Held:
    key = (stored.service_id, stored.with_bodies)
    held = _MEMORY.get(key)
    if held is not None and held.rendered_from == stored.rendered_from:
        return held
    body = PeriskopAnswer.objects.filter(pk=stored.pk).values_list("body", flat=True).first()
    return _hold(key, stored.rendered_from, bytes(body or b"[]"))


def _hold(key: tuple[int, bool], rendered_from, body: bytes) -> _Held:
    held = _Held(rendered_from, body)
    _MEMORY[key] = held
    return held


def _is_current(service: Service) -> bool:
    stored = PeriskopAnswer.objects.filter(service=service, with_bodies=False).defer("body").first()
    return stored is not None and stored.is_current(timezone.now())


def _valid_until(service: Service, now):
    """When the first ignore period still running ends: the group is active again."""
    ends = ErrorGroup.objects.filter(
        service=service, status=GroupStatus.IGNORED, ignored_until__gt=now
    ).order_by("ignored_until").values_list("ignored_until", flat=True)
    return ends.first()


def _dumps(value) -> bytes:
    # What DRF's JSONRenderer wrote before: compact, UTF-8.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def periskop_group(group: ErrorGroup, with_bodies: bool) -> dict:
    occurrences = list(group.occurrences.all())[:MAX_OCCURRENCES]
    return {
        "aggregation_key": group.aggregation_key,
        "total_count": group.total_count,
        "severity": group.severity,
        "latest_errors": [_occurrence(o, with_bodies) for o in occurrences],
        "created_at": _epoch(group.first_seen),
    }


def _occurrence(occurrence, with_bodies: bool) -> dict:
    return {
        "error": _error(
            occurrence.error_class, occurrence.message, occurrence.stacktrace, occurrence.cause or []
        ),
        "uuid": occurrence.uuid,
        "timestamp": _epoch(occurrence.timestamp),
        "severity": occurrence.severity,
        "http_context": occurrence.shown_http_context(with_bodies),
    }


def _error(error_class, message, stacktrace, causes: list[dict]) -> dict:
    """Periskop's nested `cause`, rebuilt from the stored chain."""
    cause = None
    if causes:
        first, *rest = causes
        cause = _error(first["class"], first["message"], first["stacktrace"], rest)
    return {"class": error_class, "message": message, "stacktrace": stacktrace, "cause": cause}


def _epoch(moment) -> int:
    return int(moment.timestamp()) if moment else 0
