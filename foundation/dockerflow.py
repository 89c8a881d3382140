"""
The operational endpoints every Mozilla-style service has (Dockerflow):
`/__heartbeat__`, `/__lbheartbeat__` and `/__version__` (`/__metrics__` is in
`foundation.metrics`).

The heartbeat fails (503) only for what the service cannot work without, the
database and the cache; optional integrations such as curl and Bugzilla are
reported, never failing it. Apps add their entries with `register_heartbeat()`
from their `AppConfig.ready()` (Bugzilla's is the outcome of the last sync, read
from the cache: the heartbeat never calls Bugzilla).
"""

import functools
import json
import subprocess
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe

CURL_FEATURES = ("HTTP2", "HTTP3", "SSL")
# Name -> function returning "ok" or what is wrong; reported, never failing the heartbeat.
_optional_entries = {}


def register_heartbeat(name: str, entry) -> None:
    """Report `entry()` under `name` in `/__heartbeat__`, without ever failing it."""
    _optional_entries[name] = entry


@require_safe
def heartbeat(request):
    report = {"database": _database(), "cache": _cache(), "curl": _curl()}
    report.update((name, entry()) for name, entry in _optional_entries.items())
    healthy = report["database"] == "ok" and report["cache"] == "ok"
    return JsonResponse(report, status=200 if healthy else 503)


@require_safe
def lbheartbeat(request):
    return JsonResponse({})


@require_safe
def version(request):
    path = Path(settings.VERSION_FILE)
    try:
        return JsonResponse(json.loads(path.read_text()), safe=False)
    except FileNotFoundError:
        detail = f"VERSION_FILE {path} does not exist"
        return JsonResponse({"detail": detail}, status=404)
    except (OSError, ValueError) as exc:
        detail = f"VERSION_FILE {path} cannot be read: {exc}"
        return JsonResponse({"detail": detail}, status=500)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"database failing: {type(exc).__name__}"


def _cache() -> str:
    token = uuid.uuid4().hex
    try:
        cache.set("__ping__", token, timeout=10)
        return "ok" if cache.get("__ping__") == token else "cache failing"
    except Exception as exc:
        return f"cache failing: {type(exc).__name__}"


@functools.lru_cache(maxsize=1)
def _curl() -> str:
    # Telescope ran curl on every heartbeat; its features cannot change while we run.
    try:
        output = subprocess.run(
            [settings.CURL_BINARY_PATH, "--version"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"curl unavailable at {settings.CURL_BINARY_PATH}: {exc}"
    features = next((line for line in output.splitlines() if line.startswith("Features:")), "")
    missing = [f for f in CURL_FEATURES if f not in features.split()]
    return f"missing features {', '.join(missing)}" if missing else "ok"
