"""History: every run stored in bulk, served folded, pruned, and uptime."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits import checkmodules, history, plot_value, runner
from audits.models import Check, CheckRun
from audits.runner import Result


def run_at(check, minutes_ago: float, success=True, limit=1) -> None:
    """A run of the echo check `minutes_ago`, whose plotted value is `limit`."""
    when = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    result = Result(when, success, {"limit": limit}, 3, ran=True, scalar=float(limit))
    runner.after_runs([(check, result)])


@pytest.mark.django_db
def test_every_run_is_stored_with_its_plot_value(make_check):
    check = make_check(params={"url": "u", "limit": 7})  # echo: DEFAULT_PLOT is .limit
    runner.run_check(check)
    run = CheckRun.objects.get()
    assert (run.success, run.scalar, run.data["limit"]) == (True, 7.0, 7)
    assert Check.objects.get().last_scalar == 7.0


@pytest.mark.django_db
def test_check_plot_overrides_the_module_default(make_check):
    check = make_check(params={"url": "u", "limit": 7}, plot=".other")
    runner.run_check(check)
    assert CheckRun.objects.get().scalar is None


@pytest.mark.django_db
def test_a_run_loads_its_module_and_extracts_its_plot_value_once(make_check, monkeypatch):
    """The log, the history and the state read the values the run derived once."""
    check = make_check(params={"url": "u", "limit": 7})
    loads, extracts = [], []
    load, extract = checkmodules.load, plot_value.extract
    monkeypatch.setattr(checkmodules, "load", lambda path: loads.append(path) or load(path))
    monkeypatch.setattr(plot_value, "extract", lambda *a: extracts.append(a) or extract(*a))
    runner.run_check(check)
    assert (len(loads), len(extracts)) == (1, 1)
    assert CheckRun.objects.get().scalar == Check.objects.get().last_scalar == 7.0


@pytest.mark.django_db
def test_history_folds_equal_neighbours(make_check):
    check = make_check()
    for minutes, success, limit in [(5, True, 1), (4, True, 1), (3, False, 1), (2, False, 1), (1, True, 2)]:
        run_at(check, minutes, success, limit)
    points = history.series([check])[check.pk]
    assert [(p["success"], p["scalar"]) for p in points] == [(True, 1.0), (False, 1.0), (True, 2.0)]
    assert CheckRun.objects.count() == 5


@pytest.mark.django_db
def test_history_is_limited_to_history_days(make_check, settings):
    settings.HISTORY_DAYS = 1
    check = make_check()
    run_at(check, 60 * 24 * 2, limit=1)
    run_at(check, 1, limit=2)
    assert [p["scalar"] for p in history.series([check])[check.pk]] == [2.0]


@pytest.mark.django_db
def test_history_points_have_telescope_format(make_check):
    check = make_check()
    run_at(check, 1)
    (point,) = history.series([check])[check.pk]
    assert set(point) == {"t", "success", "scalar"}
    assert len(point["t"]) == len("2026-11-21 10:00:00")


@pytest.mark.django_db
def test_prune_deletes_runs_older_than_history_days(make_check, settings):
    settings.HISTORY_DAYS = 1
    check = make_check()
    run_at(check, 60 * 24 * 2)
    run_at(check, 1, limit=2)
    assert history.prune() == 1
    assert CheckRun.objects.count() == 1


@pytest.mark.django_db
def test_uptime_is_the_share_of_passing_runs_per_window(make_check):
    check = make_check()
    run_at(check, 60 * 24 * 3, success=False)  # only in 7 d and 30 d
    run_at(check, 10, success=True)
    run_at(check, 5, success=False)
    run_at(check, 1, success=True)
    assert history.uptime([check]) == {"24h": 66.667, "7d": 50.0, "30d": 50.0}


@pytest.mark.django_db
def test_uptime_without_runs_is_none(make_check):
    assert history.uptime([make_check()]) == {"24h": None, "7d": None, "30d": None}


@pytest.mark.django_db
def test_runs_with_url_overrides_are_not_recorded(make_check):
    check = make_check()
    runner.run_check(check, overrides={"limit": 5})
    assert not CheckRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_project_runs_are_stored_in_one_insert(make_check):
    checks = [make_check(name=f"c{i}") for i in range(10)]
    with CaptureQueriesContext(connection) as captured:
        runner.run_checks(checks)
    inserts = [q for q in captured if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert CheckRun.objects.count() == 10
