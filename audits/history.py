"""
History of check runs: stored in bulk, served folded, pruned after HISTORY_DAYS.

Every run is a `CheckRun` row. At write time a run is flagged `is_change` when its
success or plot value differs from the previous run of its check, so the history
that Telescope's UI plots (`{t, success, scalar}`, equal neighbours folded) is read
from the changes only, with one query for any number of checks.

A run during a maintenance window is stored marked `in_maintenance`, and the
uptime figures leave it out.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from audits.models import Check, CheckRun

UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def record(pairs, scheduled_for: dict | None = None) -> list[CheckRun]:
    """Store the runs of `pairs` [(check, result)] in one insert."""
    scheduled_for = scheduled_for or {}
    quiet = Check.in_maintenance_each([check for check, _ in pairs])
    runs = [
        _run_of(check, result, scheduled_for.get(check.pk), in_maintenance)
        for (check, result), in_maintenance in zip(pairs, quiet)
    ]
    return CheckRun.objects.bulk_create(runs)


def series(checks) -> dict[int, list[dict]]:
    """Each check's history for the last HISTORY_DAYS, by check id."""
    since = timezone.now() - timedelta(days=settings.HISTORY_DAYS)
    rows = (
        CheckRun.objects.filter(
            audit_check__in=[c.pk for c in checks], started_at__gte=since, is_change=True
        )
        .order_by("audit_check", "started_at")
        .values_list("audit_check", "started_at", "success", "scalar")
    )
    points = defaultdict(list)
    for check_id, started_at, success, scalar in rows:
        previous = points[check_id][-1] if points[check_id] else None
        if previous and (previous["success"], previous["scalar"]) == (success, scalar):
            continue  # concurrent writers may both flag a change: fold again
        points[check_id].append(_point(started_at, success, scalar))
    return points


def uptime(checks, now: datetime | None = None) -> dict[str, float | None]:
    """Percentage of passing runs of `checks` over 24 h, 7 d and 30 d, maintenance
    left out (None: no run)."""
    now = now or timezone.now()
    runs = CheckRun.objects.filter(audit_check__in=checks, in_maintenance=False)
    counts = runs.aggregate(
        **{
            f"{name}_{kind}": Count("pk", filter=Q(started_at__gte=now - span, **extra))
            for name, span in UPTIME_WINDOWS.items()
            for kind, extra in (("all", {}), ("ok", {"success": True}))
        }
    )
    return {
        name: round(100 * counts[f"{name}_ok"] / counts[f"{name}_all"], 3)
        if counts[f"{name}_all"] else None
        for name in UPTIME_WINDOWS
    }


def prune(now: datetime | None = None) -> int:
    """Delete runs older than HISTORY_DAYS; the number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HISTORY_DAYS)
    deleted, _ = CheckRun.objects.filter(started_at__lt=cutoff).delete()
    return deleted


def _run_of(check: Check, result, scheduled_for, in_maintenance: bool) -> CheckRun:
    return CheckRun(
        audit_check=check,
        started_at=datetime.fromisoformat(result.datetime),
        scheduled_for=scheduled_for,
        success=result.success,
        crashed=result.crashed,
        duration=result.duration,
        scalar=result.scalar,
        data=result.data,
        is_change=(check.last_success, check.last_scalar) != (result.success, result.scalar),
        in_maintenance=in_maintenance,
    )


def _point(started_at: datetime, success: bool, scalar: float | None) -> dict:
    return {"t": started_at.strftime("%Y-%m-%d %H:%M:%S"), "success": success, "scalar": scalar}
