"""Refresh-ahead: due checks are claimed once, and their next refresh moves on."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audits import refresh, tasks
from audits.models import Check, CheckRun
from testing.waiting import wait_until

HORIZON = timedelta(seconds=4)


def due_now(*checks):
    Check.objects.filter(pk__in=[c.pk for c in checks]).update(next_refresh_at=timezone.now())


@pytest.mark.django_db
def test_new_checks_are_spread_over_one_interval(make_check):
    checks = [make_check(name=f"c{i}", ttl=60) for i in range(40)]
    now = timezone.now()
    claimed = refresh.claim_due(now, HORIZON)
    interval = timedelta(seconds=refresh.interval_seconds(60))
    due = [c.next_refresh_at for c in Check.objects.filter(pk__in=[c.pk for c in checks])]
    assert all(now <= d <= now + 2 * interval for d in due)  # claimed ones moved on
    assert max(due) - min(due) > interval / 2  # not one burst
    assert len(claimed) < len(checks) / 2  # only those due within the horizon


@pytest.mark.django_db
def test_claimed_check_is_not_claimed_again_before_its_next_refresh(make_check):
    due_now(make_check(ttl=60))
    now = timezone.now() + timedelta(seconds=1)
    assert len(refresh.claim_due(now, HORIZON)) == 1
    assert refresh.claim_due(now, HORIZON) == []
    later = now + timedelta(seconds=refresh.interval_seconds(60))
    assert len(refresh.claim_due(later, HORIZON)) == 1


@pytest.mark.django_db
def test_refresh_comes_before_the_cached_result_expires(make_check, settings):
    settings.REFRESH_DISPATCH_SECONDS = 2
    check = make_check(ttl=60)
    due_now(check)
    now = timezone.now()
    refresh.claim_due(now, HORIZON)
    next_at = Check.objects.get(pk=check.pk).next_refresh_at
    assert now + timedelta(seconds=45) < next_at < now + timedelta(seconds=60)


@pytest.mark.django_db
def test_checks_with_own_schedule_disabled_or_uncached_are_not_refreshed(make_check):
    make_check(name="scheduled", ttl=60, schedule="5m")
    make_check(name="disabled", ttl=60, enabled=False)
    make_check(name="uncached", ttl=0)
    assert refresh.claim_due(timezone.now(), HORIZON) == []


@pytest.mark.django_db
def test_after_downtime_refreshes_restart_from_now(make_check):
    check = make_check(ttl=60)
    long_ago = timezone.now() - timedelta(hours=5)
    Check.objects.filter(pk=check.pk).update(next_refresh_at=long_ago)
    now = timezone.now()
    refresh.claim_due(now, HORIZON)
    assert Check.objects.get(pk=check.pk).next_refresh_at > now


@pytest.mark.django_db(transaction=True)
def test_dispatch_runs_due_checks_and_records_when_they_were_due(make_check):
    due_now(make_check(name="a", ttl=60), make_check(name="b", ttl=60))
    assert tasks.dispatch_refreshes() == 2
    wait_until(lambda: CheckRun.objects.count() == 2)
    assert not CheckRun.objects.filter(scheduled_for__isnull=True).exists()


@pytest.mark.django_db
def test_refresh_ahead_off_dispatches_nothing(make_check, settings):
    settings.REFRESH_AHEAD = False
    make_check(ttl=60)
    assert tasks.dispatch_refreshes() == 0
