"""The runner: caching, one shared run per check, time limits, crashes, secrets."""

import logging
import threading

import pytest
from django.core.cache import cache

from audits import runner
from audits.tests.checkmods import counter


def test_fresh_result_is_served_from_cache(make_check):
    check = make_check(module="counter", ttl=60)
    first = runner.run_check(check)
    second = runner.run_check(check)
    assert first == second
    assert len(counter.calls()) == 1


def test_force_runs_even_when_cached(make_check):
    check = make_check(module="counter", ttl=60)
    runner.run_check(check)
    assert runner.run_check(check, force=True).data == 2


def test_ttl_zero_means_never_cached(make_check):
    check = make_check(module="counter", ttl=0)
    runner.run_check(check)
    runner.run_check(check)
    assert len(counter.calls()) == 2


def test_ttl_unset_uses_default_ttl(make_check, settings):
    settings.DEFAULT_TTL = 120
    check = make_check(module="counter")
    assert check.get_ttl() == 120
    runner.run_check(check)
    runner.run_check(check)
    assert len(counter.calls()) == 1


def _run_concurrently(check, callers=8):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(runner.run_check(check)))
        for _ in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_share_one_run(make_check):
    check = make_check(module="counter", params={"seconds": 0.3}, ttl=60)
    results = _run_concurrently(check)
    assert len(counter.calls()) == 1
    assert {r.data for r in results} == {1}


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_share_one_run_even_without_caching(make_check):
    check = make_check(module="counter", params={"seconds": 0.3}, ttl=0)
    _run_concurrently(check)
    assert len(counter.calls()) == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_lock_every_caller_runs(make_check, settings):
    settings.CACHE_LOCK_ENABLED = False
    check = make_check(module="counter", params={"seconds": 0.2}, ttl=60)
    _run_concurrently(check, callers=4)
    assert len(counter.calls()) == 4


def test_check_over_time_limit_fails_without_crashing(make_check, settings):
    settings.CHECK_TIMEOUT_SECONDS = 0.2
    result = runner.run_check(make_check(module="slow", params={"seconds": 5}))
    assert (result.success, result.crashed) == (False, False)
    assert result.data == "Timed out after 0.2 s"
    assert result.duration < 1000


def test_async_check_runs(make_check):
    result = runner.run_check(make_check(module="async_sleep", params={"seconds": 0.01}))
    assert (result.success, result.data) == (True, 0.01)


def test_async_check_over_time_limit_is_cancelled(make_check, settings):
    settings.CHECK_TIMEOUT_SECONDS = 0.2
    result = runner.run_check(make_check(module="async_sleep", params={"seconds": 5}))
    assert (result.success, result.data) == (False, "Timed out after 0.2 s")


def test_check_that_raises_gives_a_crashed_result(make_check):
    result = runner.run_check(make_check(module="crash", params={"message": "oops"}))
    assert (result.success, result.crashed) == (False, True)
    assert result.data == "RuntimeError: oops"


def test_crashed_result_is_not_cached(make_check):
    check = make_check(module="crash", ttl=60)
    runner.run_check(check)
    key = runner.cache_key(check, check.runtime_params())
    assert runner._read(key, since=None) is None


def test_cached_results_keep_the_form_older_processes_read(make_check):
    """During a rolling deploy old and new processes share the cache: an entry
    must hold only the fields every version's Result takes."""
    check = make_check(params={"url": "u", "limit": 7})
    assert runner.run_check(check).scalar == 7.0
    entry = cache.get(runner.cache_key(check, check.runtime_params()))
    assert set(entry["result"]) == {"datetime", "success", "data", "duration", "crashed", "ran"}
    assert runner.run_check(check) == runner.run_check(check)  # read back from the cache


def test_run_returning_something_else_than_a_pair_is_a_crash(make_check):
    result = runner.run_check(make_check(module="bad_return"))
    assert result.crashed
    assert "must return (success: bool, data)" in result.data


def test_result_has_iso_utc_datetime_and_duration(make_check):
    result = runner.run_check(make_check(module="counter"))
    assert result.datetime.endswith("+00:00")
    assert isinstance(result.duration, int)


def test_placeholders_are_resolved_at_run_time(make_check, monkeypatch):
    check = make_check(module="counter", params={"key": "${HOST_A}:${PORT_A}/x"})
    monkeypatch.setenv("HOST_A", "example.org")
    monkeypatch.setenv("PORT_A", "8443")
    runner.run_check(check)
    assert counter.calls() == ["example.org:8443/x"]


def test_placeholder_default_is_used_when_variable_is_unset(make_check, monkeypatch):
    monkeypatch.delenv("UNSET_PORT", raising=False)
    check = make_check(params={"url": "http://h:${UNSET_PORT:-8000}/"})
    assert runner.run_check(check).data["url"] == "http://h:8000/"


def test_short_resolved_values_are_not_redacted(make_check, monkeypatch):
    monkeypatch.setenv("SHORT", "on")
    check = make_check(params={"url": "x-${SHORT}"})
    assert runner.run_check(check).data["url"] == "x-on"


def test_unset_variable_fails_the_run_with_its_name(make_check, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    result = runner.run_check(make_check(params={"url": "${NOT_SET_ANYWHERE}"}))
    assert result.crashed
    assert "environment variable NOT_SET_ANYWHERE is not set" in result.data


def test_placeholder_in_a_typed_parameter_is_cast_after_resolution(make_check, monkeypatch):
    monkeypatch.setenv("THE_LIMIT", "42")
    check = make_check(params={"url": "u", "limit": "${THE_LIMIT}"})
    assert runner.run_check(check).data["limit"] == 42


def test_resolved_secret_is_redacted_from_data(make_check, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    check = make_check(params={"url": "https://h/?token=${API_TOKEN}"})
    result = runner.run_check(check)
    assert result.data["url"] == "https://h/?token=${API_TOKEN}"


def test_resolved_secret_is_redacted_from_crash_and_logs(make_check, monkeypatch, caplog):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    check = make_check(module="crash", params={"message": "token ${API_TOKEN} refused"})
    with caplog.at_level(logging.INFO):
        result = runner.run_check(check)
    assert result.data == "RuntimeError: token ${API_TOKEN} refused"
    assert "s3cr3t-value" not in caplog.text
    assert "token ${API_TOKEN} refused" in caplog.text


def test_cache_key_hashes_the_parameters(make_check, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "s3cr3t-value")
    check = make_check(params={"url": "${API_TOKEN}"})
    key = runner.cache_key(check, check.runtime_params())
    assert "s3cr3t" not in key and "proj" not in key


def test_cache_key_differs_with_parameters(make_check):
    check = make_check()
    assert runner.cache_key(check, {"url": "a"}) != runner.cache_key(check, {"url": "b"})


def test_each_run_writes_a_result_log_line_with_plot(make_check, caplog):
    check = make_check(params={"url": "u", "limit": 7})
    with caplog.at_level(logging.INFO, logger="check.result"):
        runner.run_check(check)
    record = next(r for r in caplog.records if r.name == "check.result")
    assert (record.project, record.check, record.success, record.plot) == (
        "proj", "check", True, 7.0,
    )


@pytest.mark.django_db(transaction=True)
def test_run_checks_keeps_order_and_runs_in_parallel(make_check, settings):
    settings.LIMIT_GLOBAL_CONCURRENCY = 10
    checks = [
        make_check(name=f"c{i}", module="slow", params={"seconds": 0.3}) for i in range(10)
    ]
    done = []
    results = runner.run_checks(checks, progress=lambda d, t: done.append((d, t)))
    assert [r.data for r in results] == ["finished"] * 10
    assert max(r.duration for r in results) < 1500
    assert done[-1] == (10, 10)


@pytest.mark.django_db(transaction=True)
def test_run_checks_runs_at_most_limit_global_concurrency_at_once(make_check, settings):
    import time

    settings.LIMIT_GLOBAL_CONCURRENCY = 3
    checks = [make_check(name=f"c{i}", module="slow", params={"seconds": 0.3}) for i in range(9)]
    started = time.monotonic()
    runner.run_checks(checks)
    assert time.monotonic() - started >= 0.9  # three rounds of three
