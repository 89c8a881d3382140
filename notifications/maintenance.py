"""
Whether something is in maintenance now, answered without a database query.

The windows that are current or to come are read once and kept in the cache
(`CACHE_SECONDS`, and dropped when a window is saved or deleted), so that a cached
check answer, which costs no query, can say `"maintenance": true` too. Whether a
window is open at a moment is computed here, from its definition.
"""

from datetime import datetime

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from notifications.models import MaintenanceWindow

CACHE_KEY = "maintenance:windows:v1"
CACHE_SECONDS = 60
def open_windows(at: datetime | None = None) -> list[MaintenanceWindow]:
    """The windows open at `at` (now), from the cache."""
    at = at or timezone.now()
    return [w for w in _windows() if w.is_active(at)]


def in_maintenance(scope, at: datetime | None = None, windows=None) -> bool:
    """Whether a window open at `at` covers `scope` (see `MaintenanceWindow.covers`):
    a dict, or a callable giving it, called only when some window is open.
    `windows`: `open_windows(at)`, when the caller asks for many scopes at once."""
    windows = open_windows(at) if windows is None else windows
    if not windows:
        return False
    scope = scope() if callable(scope) else scope
    return any(w.covers(scope) for w in windows)


def _windows() -> list[MaintenanceWindow]:
    windows = _cache_call("get", CACHE_KEY)
    if windows is None:
        windows = list(MaintenanceWindow.objects.current_or_future())
        _cache_call("set", CACHE_KEY, windows, CACHE_SECONDS)
    return windows


def _cache_call(method, *args):
    try:
        return getattr(cache, method)(*args)
    except Exception:  # the cache is an optimisation: Redis down reads the database
        return None


def _forget(**_):
    _cache_call("delete", CACHE_KEY)


def connect_cache_invalidation() -> None:
    post_save.connect(_forget, sender=MaintenanceWindow, dispatch_uid="maintenance-save")
    post_delete.connect(_forget, sender=MaintenanceWindow, dispatch_uid="maintenance-delete")
