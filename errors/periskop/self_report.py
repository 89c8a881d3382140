"""
This service's own unhandled exceptions, exported at `/errors` in Periskop's
format, so that it can scrape itself like any instrumented service.

Exceptions are aggregated in memory per process, the way the client libraries
do: one entry per key (`ClassName@` and a hash of the top of the stack trace),
a total count, and the last `KEEP` occurrences. Each process has a `target_uuid`
of its own, so scraping several processes counts each once.
"""

import hashlib
import threading
import traceback
import uuid
from collections import deque
from datetime import datetime, timezone

from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import JsonResponse

KEEP = 10
TARGET_UUID = str(uuid.uuid1())
_lock = threading.Lock()
_aggregates: dict[str, dict] = {}


@receiver(got_request_exception)
def _on_exception(sender, request=None, **kwargs):
    report(request)


def report(request=None) -> None:
    """Record the exception being handled now."""
    exc = traceback.sys.exc_info()[1]
    if exc is None:
        return
    lines = traceback.format_exception(exc)
    key = f"{type(exc).__name__}@{hashlib.md5(''.join(lines[:5]).encode()).hexdigest()[:8]}"
    occurrence = _occurrence(exc, lines, request)
    with _lock:
        entry = _aggregates.setdefault(
            key, {"count": 0, "latest": deque(maxlen=KEEP), "created_at": occurrence["timestamp"]}
        )
        entry["count"] += 1
        entry["latest"].append(occurrence)


def export(request):
    with _lock:
        errors = [
            {
                "aggregation_key": key,
                "total_count": entry["count"],
                "severity": "error",
                "created_at": entry["created_at"],
                "latest_errors": list(entry["latest"]),
            }
            for key, entry in _aggregates.items()
        ]
    return JsonResponse({"aggregated_errors": errors, "target_uuid": TARGET_UUID})


def _occurrence(exc: BaseException, lines: list[str], request) -> dict:
    return {
        "error": _error(exc),
        "uuid": str(uuid.uuid4()),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "severity": "error",
        "http_context": _http_context(request),
    }


def _error(exc: BaseException | None) -> dict | None:
    if exc is None:
        return None
    return {
        "class": type(exc).__name__,
        "message": str(exc),
        "stacktrace": traceback.format_exception(exc, chain=False),
        "cause": _error(exc.__cause__ or exc.__context__),
    }


def _http_context(request) -> dict | None:
    if request is None:
        return None
    # Only headers that cannot carry credentials.
    safe = ("Accept", "Content-Type", "User-Agent", "Referer")
    return {
        "request_method": request.method,
        "request_url": request.build_absolute_uri(request.path),
        "request_headers": {h: request.headers[h] for h in safe if h in request.headers},
        "request_body": "",
    }
