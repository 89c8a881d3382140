"""
Checks that misbehave: none of them may end the process that runs them or break
the answer; each becomes a stored result of what it was (failed or crashed), and
the next check still passes.
"""

import json

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
