"""State changes: read from the database, one event per change, thresholds."""

import pytest

from audits import runner, states
from audits.models import AlertState, Check
from audits.runner import Result


def result(success: bool, crashed=False, data=None) -> Result:
    return Result("2026-11-21T10:00:00+00:00", success, data, 5, crashed, ran=True)


def fresh(check) -> Check:
    return Check.objects.get(pk=check.pk)


@pytest.mark.django_db
def test_first_failure_is_a_change(make_check):
    check = make_check()
    assert states.update(check, result(False)) == states.FAILING
    assert fresh(check).alert_state == AlertState.FAILING


@pytest.mark.django_db
def test_first_success_is_silent(make_check):
    check = make_check()
    assert states.update(check, result(True)) is None
    assert fresh(check).alert_state == AlertState.PASSING


@pytest.mark.django_db
def test_failing_then_passing_is_a_recovery_once(make_check):
    check = make_check()
    states.update(check, result(False))
    assert states.update(check, result(False)) == states.STILL_FAILING  # no change
    assert states.update(check, result(True)) == states.RECOVERED
    assert states.update(check, result(True)) is None


@pytest.mark.django_db
def test_previous_state_comes_from_the_database_not_the_object(make_check):
    check = make_check()
    states.update(check, result(False))
    stale = Check.objects.get(pk=check.pk)
    Check.objects.filter(pk=check.pk).update(alert_state=AlertState.PASSING)
    # The row says passing (another process saw a success): a failure is a change again,
    # whatever the stale object says, and only once.
    assert states.update(stale, result(False)) == states.FAILING
    assert states.update(stale, result(False)) == states.STILL_FAILING  # no change


@pytest.mark.django_db
def test_failure_threshold_delays_the_alert(make_check):
    check = make_check(failure_threshold=3)
    assert [states.update(check, result(False)) for _ in range(4)] == [
        states.STILL_FAILING, states.STILL_FAILING, states.FAILING, states.STILL_FAILING,
    ]  # a failure that changes nothing: claim_alert() decides if it alerts (it does not)
    assert fresh(check).consecutive_failures == 4


@pytest.mark.django_db
def test_success_resets_the_count_of_failures(make_check):
    check = make_check(failure_threshold=2)
    states.update(check, result(False))
    states.update(check, result(True))
    assert states.update(check, result(False)) == states.STILL_FAILING  # below the threshold
    assert fresh(check).consecutive_failures == 1


@pytest.mark.django_db
def test_crash_counts_as_a_failure(make_check):
    check = make_check()
    assert states.update(check, result(False, crashed=True)) == states.FAILING


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_emit_one_event(make_check):
    import threading

    check = make_check()
    changes, errors = [], []

    def worker():
        try:
            changes.append(states.update(Check.objects.get(pk=check.pk), result(False)))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert changes.count(states.FAILING) == 1
    assert Check.objects.get(pk=check.pk).consecutive_failures == 8


@pytest.mark.django_db
def test_runner_emits_the_event_of_a_real_run(make_check, caplog):
    check = make_check(params={"url": "u", "ok": False})
    with caplog.at_level("INFO", logger="check.state"):
        runner.run_check(check)
        runner.run_check(check)  # cached: no new run, no new event
    messages = [r.getMessage() for r in caplog.records if r.name == "check.state"]
    assert messages == ["proj/check is failing"]


@pytest.mark.django_db
def test_batch_update_emits_the_same_changes_as_one_by_one(make_check):
    recovering, new_ok, new_ko, steady = (make_check(name=n) for n in ("a", "b", "c", "d"))
    states.update(recovering, result(False))
    states.update(steady, result(True))
    pairs = [(recovering, result(True)), (new_ok, result(True)), (new_ko, result(False)),
             (steady, result(True))]
    changes = {check.name: change for check, change in states.update_many(pairs)}
    assert changes == {"a": states.RECOVERED, "c": states.FAILING}
    rows = {c.name: (c.alert_state, c.last_success) for c in Check.objects.all()}
    assert rows == {
        "a": ("passing", True), "b": ("passing", True),
        "c": ("failing", False), "d": ("passing", True),
    }
