"""Scheduled scraping and retention."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from errors import tasks
from errors.models import (
    ErrorGroup,
    GroupStatus,
    HourlyCount,
    Occurrence,
    Service,
    TargetCount,
)
from errors.tests.periskop_instance import PeriskopInstance
from foundation import locks


@pytest.mark.django_db
def test_new_service_is_due_at_once_then_every_interval():
    service = Service.objects.create(name="api", refresh_interval=30)
    now = timezone.now()
    assert tasks.claim_due(now) == [service.pk]
    assert tasks.claim_due(now) == []
    assert tasks.claim_due(now + timedelta(seconds=30)) == [service.pk]


@pytest.mark.django_db
def test_disabled_service_is_never_due():
    Service.objects.create(name="api", enabled=False)
    assert tasks.claim_due(timezone.now()) == []


@pytest.mark.django_db(transaction=True)
def test_dispatch_scrapes_due_services():
    with PeriskopInstance() as instance:
        instance.report(ValueError("boom"), times=2)
        Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        assert tasks.dispatch_scrapes() == 1
        deadline = time.monotonic() + 10
        while not ErrorGroup.objects.filter(total_count=2).exists():
            assert time.monotonic() < deadline, "the scrape did not happen"
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_scrape_is_skipped_while_another_of_the_same_service_runs_and_leaves_its_lock():
    with PeriskopInstance() as instance:
        instance.report(ValueError("boom"))
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        running = locks.lock(f"errors:scrape:{service.pk}", 60)  # as the other scrape holds it
        assert locks.try_acquire(running)
        tasks.scrape_service(service.pk)
        assert not ErrorGroup.objects.exists()
        assert running.owned(), "the skipped scrape released the running one's lock"
        locks.release(running)
        tasks.scrape_service(service.pk)
        assert ErrorGroup.objects.exists()


@pytest.mark.django_db
def test_prune_keeps_recent_data_and_live_resolved_groups(settings):
    settings.ERRORS_RETENTION_DAYS = 90
    service = Service.objects.create(name="api")
    old = timezone.now() - timedelta(days=100)
    gone = ErrorGroup.objects.create(service=service, aggregation_key="gone",
                                     status=GroupStatus.RESOLVED, resolved_at=old)
    alive = ErrorGroup.objects.create(service=service, aggregation_key="alive",
                                      status=GroupStatus.RESOLVED, resolved_at=old)
    TargetCount.objects.create(group=alive, target_id="t", count=3, seen_at=timezone.now())
    Occurrence.objects.create(group=alive, uuid="old", timestamp=old, error_class="E")
    Occurrence.objects.create(group=alive, uuid="new", timestamp=timezone.now(), error_class="E")
    HourlyCount.objects.create(group=alive, hour=old, count=1)
    tasks.prune()
    assert list(ErrorGroup.objects.values_list("aggregation_key", flat=True)) == ["alive"]
    assert list(Occurrence.objects.values_list("uuid", flat=True)) == ["new"]
    assert not HourlyCount.objects.exists()
    assert not ErrorGroup.objects.filter(pk=gone.pk).exists()
