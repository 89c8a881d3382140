"""
Scraping real instances (the Python Periskop client, served from 127.0.0.1):
exact counts across instances, restarts and misbehaving targets.
"""

import pytest

from errors import scraper
from errors.models import ErrorGroup, GroupStatus, Service, Target, TargetStatus
from errors.tests.periskop_instance import PeriskopInstance


@pytest.fixture
def instances():
    started = [PeriskopInstance().start() for _ in range(3)]
    yield started
    for instance in started:
        instance.stop()


def make_service(*instances, **fields) -> Service:
    targets = [i.address for i in instances]
    return Service.objects.create(
        name="api", discovery={"static_configs": [{"targets": targets}]}, **fields
    )


def total(key: str) -> int:
    return ErrorGroup.objects.get(aggregation_key=key).total_count


@pytest.mark.django_db(transaction=True)
def test_first_scrape_counts_every_instance(instances):
    a, b, c = instances
    key = a.report(ValueError("boom"), times=3)
    b.report(ValueError("boom"), times=2)
    service = make_service(a, b, c)
    report = scraper.scrape(service)
    assert (report.targets, report.up) == (3, 3)
    assert total(key) == 5


@pytest.mark.django_db(transaction=True)
def test_rescrape_without_new_errors_adds_nothing(instances):
    a, *_ = instances
    key = a.report(ValueError("boom"), times=3)
    service = make_service(a)
    scraper.scrape(service)
    scraper.scrape(service)
    assert total(key) == 3


@pytest.mark.django_db(transaction=True)
def test_growth_adds_the_difference(instances):
    a, b, _ = instances
    key = a.report(ValueError("boom"), times=3)
    service = make_service(a, b)
    scraper.scrape(service)
    a.report(ValueError("boom"), times=4)
    b.report(ValueError("boom"), times=1)
    scraper.scrape(service)
    assert total(key) == 8


@pytest.mark.django_db(transaction=True)
def test_instance_restart_counts_its_new_errors(instances):
    a, *_ = instances
    key = a.report(ValueError("boom"), times=5)
    service = make_service(a)
    scraper.scrape(service)
    a.restart()  # new collector: count back to zero, new target_uuid
    a.report(ValueError("boom"), times=2)
    scraper.scrape(service)
    assert total(key) == 7


@pytest.mark.django_db(transaction=True)
def test_counter_drop_with_the_same_identity_is_a_reset(instances):
    a, *_ = instances
    a.legacy = True  # an old client: no target_uuid, identified by its URL
    key = a.report(ValueError("boom"), times=5)
    service = make_service(a)
    scraper.scrape(service)
    a.restart()
    a.report(ValueError("boom"), times=2)
    scraper.scrape(service)
    assert total(key) == 7


@pytest.mark.django_db(transaction=True)
def test_broken_targets_are_recorded_and_skipped(instances):
    good, down, garbage = instances
    key = good.report(ValueError("boom"), times=2)
    garbage.answer(b"<html>oops</html>", status=200)
    address_down = down.address
    down.stop()
    service = make_service(good, down, garbage)
    report = scraper.scrape(service)
    assert (report.targets, report.up) == (3, 1)
    assert total(key) == 2
    targets = {t.address: t for t in Target.objects.all()}
    assert targets[address_down].status == TargetStatus.DOWN
    assert "refused" in targets[address_down].last_error
    assert "JSON" in targets[garbage.address].last_error
    assert targets[good.address].status == TargetStatus.UP


@pytest.mark.django_db(transaction=True)
def test_hanging_target_delays_no_other_target(instances, settings):
    settings.ERRORS_SCRAPE_TIMEOUT_SECONDS = 1.0
    good, hanging, _ = instances
    key = good.report(ValueError("boom"))
    hanging.hang()
    report = scraper.scrape(make_service(hanging, good))
    assert report.up == 1 and total(key) == 1
    assert "timed out" in Target.objects.get(address=hanging.address).last_error


@pytest.mark.django_db(transaction=True)
def test_resolved_group_comes_back_as_a_regression(instances):
    a, *_ = instances
    key = a.report(ValueError("boom"))
    service = make_service(a)
    scraper.scrape(service)
    ErrorGroup.objects.get(aggregation_key=key).resolve()
    scraper.scrape(service)  # same count: stays resolved
    assert ErrorGroup.objects.get(aggregation_key=key).status == GroupStatus.RESOLVED
    a.report(ValueError("boom"))
    scraper.scrape(service)
    group = ErrorGroup.objects.get(aggregation_key=key)
    assert (group.status, group.regression, group.total_count) == (GroupStatus.ACTIVE, True, 2)


@pytest.mark.django_db(transaction=True)
def test_occurrences_are_deduplicated_and_capped(instances, settings):
    settings.ERRORS_MAX_OCCURRENCES = 5
    a, b, _ = instances
    key = a.report(ValueError("boom"), times=4)
    b.report(ValueError("boom"), times=4)
    service = make_service(a, b)
    scraper.scrape(service)
    scraper.scrape(service)
    group = ErrorGroup.objects.get(aggregation_key=key)
    assert group.occurrences.count() == 5
    assert len(set(group.occurrences.values_list("uuid", flat=True))) == 5


@pytest.mark.django_db(transaction=True)
def test_file_sd_targets_come_and_go(instances, tmp_path):
    a, b, _ = instances
    a.report(ValueError("boom"))
    targets_file = tmp_path / "targets.json"
    targets_file.write_text(f'[{{"targets": ["{a.address}"], "labels": {{"zone": "a"}}}}]')
    service = Service.objects.create(
        name="api", discovery={"file_sd_configs": [{"files": [str(targets_file)]}]}
    )
    scraper.scrape(service)
    assert list(Target.objects.values_list("address", "labels")) == [
        (a.address, {"instance": a.address, "job": "api", "zone": "a"})
    ]
    targets_file.write_text(f'[{{"targets": ["{b.address}"]}}]')
    scraper.scrape(service)
    assert list(Target.objects.values_list("address", flat=True)) == [b.address]


@pytest.mark.django_db(transaction=True)
def test_failing_discovery_source_keeps_its_last_known_targets(instances, tmp_path):
    a, *_ = instances
    targets_file = tmp_path / "targets.json"
    targets_file.write_text(f'[{{"targets": ["{a.address}"]}}]')
    service = Service.objects.create(
        name="api", discovery={"file_sd_configs": [{"files": [str(targets_file)]}]}
    )
    scraper.scrape(service)
    targets_file.write_text("[{half-written")
    report = scraper.scrape(service)
    assert report.errors and "targets.json" in report.errors[0]
    assert list(Target.objects.values_list("address", flat=True)) == [a.address]


@pytest.mark.django_db(transaction=True)
def test_a_relabelled_metrics_path_is_the_path_scraped():
    with PeriskopInstance(path="/-/exceptions") as instance:
        key = instance.report(ValueError("boom"), times=2)
        service = make_service(instance, endpoint="/errors")
        service.discovery["relabel_configs"] = [
            {"target_label": "__metrics_path__", "replacement": "/-/exceptions"}
        ]
        report = scraper.scrape(service)
        assert (report.up, total(key)) == (1, 2)
        assert Target.objects.get().url == f"http://{instance.address}/-/exceptions"
