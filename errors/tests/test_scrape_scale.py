"""
Scrapes at scale: shards of a large service, unchanged payloads skipped, claims that
keep two scrapes off the same target, and a number of queries that does not grow
with the number of keys or instances.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from errors import scraper, tasks
from errors.models import ErrorGroup, HourlyCount, Service, Target, TargetCount, TargetStatus
from errors.tests.periskop_instance import PeriskopInstance
from foundation import background, locks
from testing.waiting import wait_until


@pytest.fixture
def instances(request):
    started = [PeriskopInstance().start() for _ in range(getattr(request, "param", 5))]
    yield started
    for instance in started:
        instance.stop()


def make_service(instances, name="api") -> Service:
    return Service.objects.create(
        name=name, discovery={"static_configs": [{"targets": [i.address for i in instances]}]}
    )


def report_errors(instances, keys: int) -> dict[str, int]:
    """`keys` distinct errors on each instance, 1 + its index times each; the totals."""
    totals: dict[str, int] = {}
    for n, instance in enumerate(instances, start=1):
        for k in range(keys):
            key = instance.report(ValueError(f"boom {k}"), times=n)
            totals[key] = totals.get(key, 0) + n
    return totals


def stored_totals() -> dict[str, int]:
    return dict(ErrorGroup.objects.values_list("aggregation_key", "total_count"))


# --- the dispatcher -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_plan_splits_the_targets_into_shards_of_the_configured_size(instances, settings):
    settings.ERRORS_SCRAPE_SHARD_SIZE = 2
    service = make_service(instances)
    report, shards = scraper.plan(service)
    ids = sorted(Target.objects.values_list("pk", flat=True))
    assert report.targets == 5
    assert [len(shard) for shard in shards] == [2, 2, 1]
    assert sorted(pk for shard in shards for pk in shard) == ids


@pytest.mark.django_db(transaction=True)
def test_a_large_service_is_scraped_as_shard_tasks_with_exact_totals(
    instances, settings, monkeypatch
):
    settings.ERRORS_SCRAPE_SHARD_SIZE = 2
    expected = report_errors(instances, keys=3)
    service = make_service(instances)
    sent = []

    def recorded(task, *args, **kwargs):  # the real enqueue, its calls noted
        sent.append((task.name, args))
        return background.enqueue(task, *args, **kwargs)

    monkeypatch.setattr(tasks, "enqueue", recorded)
    tasks.scrape_service(service.pk)
    assert [name for name, _ in sent] == ["errors.tasks.scrape_shard"] * 3
    assert sorted(len(args[1]) for _, args in sent) == [1, 2, 2]
    deadline = time.monotonic() + 20  # the embedded mode runs them on its pool
    while stored_totals() != expected:
        assert time.monotonic() < deadline, f"{stored_totals()} != {expected}"
        time.sleep(0.05)
    while Target.objects.exclude(status=TargetStatus.UP).exists():
        assert time.monotonic() < deadline, "not every target was marked up"
        time.sleep(0.05)
    assert TargetCount.objects.count() == 5 * 3


@pytest.mark.django_db(transaction=True)
def test_a_small_service_is_scraped_by_the_dispatching_task_itself(instances, monkeypatch):
    expected = report_errors(instances, keys=2)
    service = make_service(instances)
    sent = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, *args, **kw: sent.append(task.name))
    tasks.scrape_service(service.pk)
    assert sent == []
    assert stored_totals() == expected


# --- unchanged payloads ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_target_whose_payload_did_not_change_is_skipped_but_marked_up(instances):
    expected = report_errors(instances, keys=2)
    service = make_service(instances)
    first = scraper.scrape(service)
    assert (first.up, first.unchanged) == (5, 0)
    before = dict(Target.objects.values_list("pk", "last_scrape_at"))
    second = scraper.scrape(service)
    assert (second.up, second.unchanged, second.increment) == (5, 5, 0)
    for target in Target.objects.all():
        assert target.status == TargetStatus.UP and target.last_error == ""
        assert target.last_scrape_at > before[target.pk]
    instances[0].report(ValueError("boom 0"), times=4)  # one instance changes
    third = scraper.scrape(service)
    assert (third.unchanged, third.increment) == (4, 4)
    assert sum(stored_totals().values()) == sum(expected.values()) + 4


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_payload_is_merged_again_once_an_hour_so_its_counts_stay_seen(instances):
    report_errors(instances, keys=1)
    service = make_service(instances)
    scraper.scrape(service)
    long_ago = timezone.now() - timedelta(hours=2)
    Target.objects.update(payload_merged_at=long_ago)
    TargetCount.objects.update(seen_at=long_ago)
    report = scraper.scrape(service)
    assert (report.unchanged, report.increment) == (0, 0)
    assert not TargetCount.objects.filter(seen_at__lte=long_ago).exists()


# --- claims ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [2], indirect=True)
def test_targets_claimed_by_a_running_scrape_are_left_to_it_but_its_rerun_takes_them(
    instances,
):
    expected = report_errors(instances, keys=1)
    service = make_service(instances)
    _, [ids] = scraper.plan(service)
    held = scraper.claim(service, ids[:1], "running-shard")
    assert [t.pk for t in held] == ids[:1]
    other = scraper.scrape_targets(service, ids, "another-scrape")
    assert (other.targets, other.busy, other.up) == (1, 1, 1)
    rerun = scraper.scrape_targets(service, ids[:1], "running-shard")  # its task, run again
    assert (rerun.targets, rerun.busy, rerun.up) == (1, 0, 1)
    assert stored_totals() == expected
    assert not Target.objects.exclude(claimed_by="").exists(), "claims outlived the scrapes"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [1], indirect=True)
def test_the_claim_of_a_scrape_that_died_ends_with_its_lease(instances, monkeypatch):
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.5)
    report_errors(instances, keys=1)
    service = make_service(instances)
    _, [ids] = scraper.plan(service)
    scraper.claim(service, ids, "dead-worker")  # and nothing renews it
    assert scraper.scrape_targets(service, ids, "next-scrape").busy == 1
    time.sleep(0.6)
    assert scraper.scrape_targets(service, ids, "next-scrape").up == 1


@pytest.mark.django_db(transaction=True)
def test_the_claims_of_a_long_scrape_are_renewed_until_it_ends(upstream, monkeypatch):
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.6)
    upstream.route("/errors", json={"aggregated_errors": []}, delay=2.0)  # over 3 leases
    service = Service.objects.create(
        name="slow", discovery={"static_configs": [{"targets": [f"127.0.0.1:{upstream.port}"]}]}
    )
    _, [ids] = scraper.plan(service)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_scrape_in_thread, service, ids)
        wait_until(lambda: upstream.hits("/errors"), 5, "the scrape did not start")
        time.sleep(1.2)  # two leases: the claim lives only because it was renewed
        assert scraper.scrape_targets(service, ids, "another-scrape").busy == 1
        assert running.result(timeout=10).up == 1
    assert Target.objects.get().claimed_by == ""


def _scrape_in_thread(service, ids):
    try:
        return scraper.scrape_targets(service, ids, "long-scrape")
    finally:
        connection.close()


# --- queries --------------------------------------------------------------------------


def scrape_queries(instances, keys: int, name: str) -> tuple[int, int]:
    """The queries of a cold and of a warm scrape of `instances` reporting `keys` keys."""
    report_errors(instances, keys)
    service = make_service(instances, name)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert scraper.scrape(service).up == len(instances)
        counts.append(len(queries))
    return counts[0], counts[1]


# Fewer than 111 samples per merge: SQLite takes at most 999 parameters a statement,
# so Django splits larger inserts there (into statements of 111 samples).


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [4], indirect=True)
def test_the_queries_of_a_scrape_do_not_grow_with_the_number_of_keys(instances):
    few = scrape_queries(instances[:2], keys=2, name="few")
    many = scrape_queries(instances[2:], keys=20, name="many")
    assert many == few


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [14], indirect=True)
def test_the_queries_of_a_scrape_do_not_grow_with_the_number_of_instances(
    instances, django_assert_max_num_queries
):
    few = scrape_queries(instances[:2], keys=1, name="few")
    report_errors(instances[2:], keys=1)
    service = make_service(instances[2:], "many")
    # Discovery 5, claims 2, one merge 12, the targets and the service 2, a BEGIN
    # and a COMMIT around each of the 7 transactions, and Periskop's answer
    # rendered once (its groups, their samples, its store: 10).
    with django_assert_max_num_queries(45) as cold:
        assert scraper.scrape(service).up == 12
    with django_assert_max_num_queries(15) as warm:  # nothing to parse nor merge; the answer is current
        assert scraper.scrape(service).unchanged == 12
    assert (len(cold), len(warm)) == few
    assert HourlyCount.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [2], indirect=True)
def test_samples_over_the_cap_keep_the_newest_across_scrapes_and_batches(instances, settings):
    settings.ERRORS_MAX_OCCURRENCES = 5
    a, b = instances
    key = a.report(ValueError("boom"), times=4)
    service = make_service(instances)
    scraper.scrape(service)
    b.report(ValueError("boom"), times=4)  # newer than all of a's
    a.report(ValueError("boom"), times=1)  # the newest of all
    scraper.scrape(service)
    samples = sorted(
        (e["timestamp"], e["uuid"]) for i in instances
        for g in i.payload()["aggregated_errors"] if g["aggregation_key"] == key
        for e in g["latest_errors"]
    )
    assert len(samples) == 9
    stored = ErrorGroup.objects.get(aggregation_key=key).occurrences
    assert set(stored.values_list("uuid", flat=True)) == {uuid for _, uuid in samples[-5:]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instances", [2], indirect=True)
def test_a_payload_the_database_refuses_holds_back_no_other_of_its_batch(instances):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the refusal is a CHECK constraint the test adds with ALTER TABLE")
    full, fine = instances
    refused_key = full.report(ValueError("boom"), times=2)
    counted = fine.report(KeyError("other"), times=3)
    service = make_service(instances)
    ErrorGroup.objects.create(service=service, aggregation_key=refused_key, total_count=999)
    table = ErrorGroup._meta.db_table
    with connection.cursor() as cursor:  # 2 more do not fit under this limit
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT test_refuse CHECK (total_count < 1000)")
    try:
        report = scraper.scrape(service)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT test_refuse")
    assert report.up == 1
    assert stored_totals()[counted] == 3
    refused = Target.objects.get(address=full.address)
    assert refused.status == TargetStatus.DOWN and "not stored" in refused.last_error
    assert refused.payload_digest == "", "a payload not stored must be merged again"
