"""
`make test` runs the suite in two steps, most of it in parallel (pytest-xdist), then
the integration tests on their own, and fails when either step fails: .ci/run execs
it, so a failing test anywhere fails CI.

A stand-in for pytest records how make called it and fails when told to; make runs
for real, without installing anything (-o: the virtualenv counts as up to date).
"""

import configparser
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER = "no step is called like this"
STAND_IN = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in $FAIL_WHEN) exit 1;; esac
"""


def make_test(tmp_path: Path, fail_when: str) -> tuple[int, list[list[str]]]:
    """`make test` with the stand-in as pytest: (exit status, the args of each call)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    stand_in = tmp_path / "pytest"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    completed = subprocess.run(
        ["make", "-o", ".venv/.dev-installed", "-o", ".venv/.runtime-installed", "test",
         f"PYTEST={stand_in}"],
        cwd=ROOT, env={**os.environ, "CALLS": str(calls), "FAIL_WHEN": fail_when},
        capture_output=True, text=True, timeout=60,
    )
    return completed.returncode, [line.split() for line in calls.read_text().splitlines()]


def test_make_test_runs_the_parallel_step_then_what_it_left_out_on_its_own(tmp_path):
    status, (parallel, serial) = make_test(tmp_path, NEVER)
    assert status == 0
    assert "-n" in parallel and "-n" not in serial
    deselected = [parallel[i + 1] for i, arg in enumerate(parallel) if arg == "--deselect"]
    assert deselected and deselected == serial


@pytest.mark.parametrize("failing_step", ["-n *", "integration/"])
def test_make_test_fails_when_either_step_fails_and_still_runs_both(tmp_path, failing_step):
    status, calls = make_test(tmp_path, failing_step)
    assert status != 0
    assert len(calls) == 2


def test_every_folder_of_tests_is_collected():
    """A new app's tests run in `make test` only if pytest.ini's testpaths names it."""
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    collected = set(ini["pytest"]["testpaths"].split())
    with_tests = {
        path.parent.name for path in ROOT.glob("*/tests") if path.is_dir()
    } | {path.name for path in ROOT.glob("*_tests") if path.is_dir()}
    missing = sorted(with_tests - collected)
    assert not missing, f"add {missing} to testpaths in pytest.ini, or their tests never run"
