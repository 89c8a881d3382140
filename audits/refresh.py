"""
Refresh-ahead: every check without its own schedule is run again shortly before
its cached result expires, so that a monitor always finds a warm result.

`claim_due()` picks the checks whose refresh falls within the coming `horizon`
and moves their `next_refresh_at` forward in the same transaction. Rows are
locked with `SKIP LOCKED` (PostgreSQL, MariaDB), so two dispatchers running at
once, by mistake or during a beat hand-over, never claim the same refresh.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from audits.models import Check

MAX_CLAIMED = 5000


def lead_seconds(ttl: int) -> float:
    """How long before expiry a result is refreshed: room for queueing and jitter."""
    return min(ttl / 4, 2 * settings.REFRESH_DISPATCH_SECONDS + 5)


def interval_seconds(ttl: int) -> float:
    return max(ttl - lead_seconds(ttl), 1.0)


@transaction.atomic
def claim_due(now: datetime, horizon: timedelta) -> list[tuple[int, datetime]]:
    """[(check id, when its refresh is due)] for refreshes due before now + horizon."""
    _spread_new(now)
    due = list(
        _refreshable()
        .filter(next_refresh_at__lte=now + horizon)
        .select_for_update(skip_locked=True)
        .only("pk", "ttl", "next_refresh_at")
        .order_by("next_refresh_at")[:MAX_CLAIMED]
    )
    claimed = []
    for check in due:
        due_at = check.next_refresh_at
        claimed.append((check.pk, due_at))
        step = timedelta(seconds=interval_seconds(check.get_ttl()))
        # After downtime, start again from now rather than replaying missed runs.
        check.next_refresh_at = max(due_at + step, now + step / 2)
    Check.objects.bulk_update(due, ["next_refresh_at"], batch_size=500)
    return claimed


def _spread_new(now: datetime) -> None:
    """
    Checks never refreshed get a first due time spread over one interval, by id.
    Were they all due at once (a fresh start, an import of 1,000 checks), they
    would stay in step for good and every refresh would come as one burst. Until
    then a request runs its check itself, as without refresh-ahead.
    """
    new = list(
        _refreshable().filter(next_refresh_at__isnull=True)
        .select_for_update(skip_locked=True).only("pk", "ttl")
    )
    for check in new:
        fraction = (check.pk * 2654435761 % 2**32) / 2**32  # well spread, stable
        offset = fraction * interval_seconds(check.get_ttl())
        check.next_refresh_at = now + timedelta(seconds=offset)
    Check.objects.bulk_update(new, ["next_refresh_at"], batch_size=500)


def _refreshable():
    checks = Check.objects.enabled().filter(schedule="")
    if settings.DEFAULT_TTL == 0:
        return checks.exclude(ttl__isnull=True).exclude(ttl=0)
    return checks.exclude(ttl=0)
