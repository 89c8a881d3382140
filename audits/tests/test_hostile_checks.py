"""
Checks that misbehave run in the check processes (`audits.execution`), so none of
them can wedge, stall or end the process that serves, nor break the answer: each
becomes a stored result of what it was (failed or crashed), and the next check
still passes.
"""

import json
import time

import pytest

from audits import runner
from audits.models import CheckRun

HOSTILE = "hostile"


@pytest.fixture
def hostile(make_check):
    def make(how, **fields):
        return make_check(project="bad", name=how, module=HOSTILE, params={"how": how}, **fields)
    return make


@pytest.fixture
def healthy(make_check):
    """A check that passes, to prove the service still runs checks afterwards."""
    return make_check(project="good", name="echo", params={"url": "http://example.com"})


def test_a_hanging_check_is_stopped_at_the_time_limit(hostile, healthy, settings):
    settings.CHECK_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()
    result = runner.run_check(hostile("hang"))
    assert (result.success, result.data) == (False, "Timed out after 0.5 s")
    assert time.monotonic() - started < 5
    assert runner.run_check(healthy).success


def test_the_pool_recovers_after_more_hanging_runs_than_processes(
    make_check, healthy, settings
):
    settings.CHECK_TIMEOUT_SECONDS = 0.5
    hanging = [
        make_check(project="bad", name=f"hang{i}", module=HOSTILE, params={"how": "hang"})
        for i in range(3 * settings.CHECK_PROCESSES)
    ]
    results = runner.run_checks(hanging)
    assert {r.data for r in results} == {"Timed out after 0.5 s"}
    assert runner.run_check(healthy).success  # every killed process was replaced


def test_a_check_holding_the_gil_burns_the_cpu_of_its_own_process_not_this_one(
    hostile, settings
):
    # CPU time, not wall time, so that a loaded machine cannot fail it: in this
    # process the runaway regular expression would burn the 2 s limit on this
    # process's clock, holding the GIL against every request thread.
    settings.CHECK_TIMEOUT_SECONDS = 2
    check = hostile("gil")
    cpu_before = time.process_time()
    result = runner.run_check(check)
    assert result.data == "Timed out after 2 s"
    assert time.process_time() - cpu_before < 1.0


def test_a_check_that_ends_its_process_is_a_crash_and_the_process_replaced(hostile, healthy):
    result = runner.run_check(hostile("os_exit"))
    assert (result.success, result.crashed) == (False, True)
    assert result.data == "The check's process died (exit code 1)"
    assert runner.run_check(healthy).success


@pytest.mark.parametrize("how", ["system_exit", "keyboard_interrupt"])
def test_system_exit_and_keyboard_interrupt_are_crashes(hostile, healthy, how):
    result = runner.run_check(hostile(how))
    assert (result.success, result.crashed) == (False, True)
    assert result.data.startswith(("SystemExit: 3", "KeyboardInterrupt"))
    assert runner.run_check(healthy).success


def test_an_exception_that_cannot_be_printed_is_a_crash(hostile):
    result = runner.run_check(hostile("unprintable"))
    assert (result.success, result.crashed) == (False, True)
    assert result.data == "Unprintable: <unprintable Unprintable>"


def test_nan_and_infinity_become_null(hostile):
    result = runner.run_check(hostile("nan"))
    assert result.data == {"value": None, "limit": None, "low": None}
    json.dumps(result.data, allow_nan=False)


def test_keys_that_are_not_strings_become_strings(hostile):
    result = runner.run_check(hostile("tuple_keys"))
    assert result.data == {"(1, 2)": "pair", "3": "three", "set": [4]}


def test_data_that_contains_itself_is_cut(hostile):
    result = runner.run_check(hostile("cycle"))
    assert result.data == {"name": "loop", "self": "<cycle>"}


def test_data_over_the_cap_is_stored_truncated_with_a_marker(hostile, settings):
    result = runner.run_check(hostile("huge"))
    assert result.data.endswith(f"over the {settings.CHECK_MAX_DATA_BYTES}-byte limit]")
    assert len(result.data) < settings.CHECK_MAX_DATA_BYTES + 200
    stored = CheckRun.objects.get(audit_check__name="huge")
    assert stored.data == result.data  # history holds the capped data, not 50 MB


def test_a_crash_is_stored_in_the_history_as_a_crash(hostile):
    runner.run_check(hostile("system_exit"))
    run = CheckRun.objects.get(audit_check__name="system_exit")
    assert (run.success, run.crashed, run.data) == (False, True, "SystemExit: 3")
