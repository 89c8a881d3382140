"""
A check process runs several checks at once (`audits.execution`): a cold project
needs a handful of processes, not one per check, and a check that hangs stops
none of the checks running beside it.
"""

import pytest

from audits import execution, runner


@pytest.fixture
def own_pool(monkeypatch):
    """A pool of this test's own, from the settings as the test set them."""
    monkeypatch.setattr(execution, "_pool", None)
    yield
    pool = execution._pool
    for worker in list(pool.workers) if pool else []:
        worker.kill()


def test_checks_run_at_once_share_a_few_processes(make_check, settings, own_pool):
    settings.CHECK_PROCESS_THREADS = 5
    settings.LIMIT_GLOBAL_CONCURRENCY = 20
    checks = [make_check(name=f"c{i}", module="pid", params={"seconds": 0.3}) for i in range(20)]
    results = runner.run_checks(checks)
    assert all(result.success for result in results)
    # One process per check would be 20; at most 5 at once in each: 4.
    assert len({result.data for result in results}) <= 4


def test_a_hanging_check_stops_none_of_the_checks_beside_it(make_check, settings, own_pool):
    settings.CHECK_PROCESSES = 1  # both in the one process
    settings.CHECK_TIMEOUT_SECONDS = 1
    hanging = make_check(name="hang", module="hostile", params={"how": "hang"})
    beside = make_check(name="beside", module="pid", params={"seconds": 0.2})
    hung, passed = runner.run_checks([hanging, beside])
    assert (hung.success, hung.data) == (False, "Timed out after 1 s")
    assert passed.success
    # The process of the hanging check was retired, killed, and replaced.
    after = runner.run_check(beside, force=True)
    assert after.success and after.data != passed.data


def test_a_batch_larger_than_the_pool_waits_for_its_own_runs(make_check, settings, own_pool):
    settings.CHECK_PROCESSES = 1
    settings.CHECK_PROCESS_THREADS = 2
    settings.LIMIT_GLOBAL_CONCURRENCY = 10
    settings.CHECK_TIMEOUT_SECONDS = 5
    checks = [make_check(name=f"c{i}", module="pid", params={"seconds": 0.1}) for i in range(6)]
    results = runner.run_checks(checks)
    # None refused for want of a free place: the batch's own runs free them.
    assert all(result.success for result in results)
    assert len({result.data for result in results}) == 1
