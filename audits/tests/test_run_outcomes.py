"""
Every run is stored as what it was: passed, failed or crashed. A check that
cannot even start (an unset `${VAR}`, a module gone or not allowed, a parameter
that no longer casts) is a crashed run like any other: a history row, a state
change and its alert, the metrics, and never a cached result.
"""

import io
import json
import logging
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from audits import runner
from audits.models import AlertState, Check, CheckRun

# Runs happen in worker threads and in the check processes.
pytestmark = pytest.mark.django_db(transaction=True)

NAN_BODY = b'{"status": NaN}'  # as Python's json.dumps writes float("nan")


@pytest.fixture
def unset_variable(make_check, monkeypatch):
    monkeypatch.delenv("NEVER_SET_VARIABLE", raising=False)
    return make_check("cfg", "unset", params={"url": "${NEVER_SET_VARIABLE}"})


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    return client


def state_events(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "check.state"]


def test_a_check_with_an_unset_variable_is_stored_as_a_crashed_run(unset_variable):
    result = runner.run_check(unset_variable)
    (run,) = CheckRun.objects.filter(audit_check=unset_variable)
    assert (result.crashed, run.crashed, run.success) == (True, True, False)
    assert "NEVER_SET_VARIABLE is not set" in run.data


def test_a_check_that_cannot_run_alerts_once(unset_variable, caplog):
    with caplog.at_level(logging.INFO, logger="check.state"):
        runner.run_check(unset_variable)
        runner.run_check(unset_variable)
    assert state_events(caplog) == ["cfg/unset is failing"]
    check = Check.objects.get(pk=unset_variable.pk)
    assert (check.alert_state, check.last_success, check.last_crashed) == (
        AlertState.FAILING, False, True
    )


def test_a_check_whose_module_is_not_allowed_is_stored_as_crashed(make_check, settings):
    check = make_check("cfg", "gone", module="checks.core.heartbeat")
    settings.CHECK_MODULES = ["mycompany.checks"]
    assert runner.run_check(check).crashed
    assert CheckRun.objects.get(audit_check=check).crashed


def test_a_check_that_cannot_run_is_never_cached(unset_variable, monkeypatch):
    runner.run_check(unset_variable)
    monkeypatch.setenv("NEVER_SET_VARIABLE", "http://example.com")
    assert runner.run_check(unset_variable).success


def test_a_url_parameter_that_does_not_cast_is_not_stored(make_check, client):
    check = make_check("cfg", "override")
    response = client.get("/checks/cfg/override?limit=many")
    assert response.status_code in (400, 500)
    assert not CheckRun.objects.filter(audit_check=check).exists()


def test_run_checks_stores_the_checks_that_cannot_run(unset_variable, make_check):
    healthy = make_check("cfg", "healthy")
    runner.run_checks([unset_variable, healthy])
    assert set(CheckRun.objects.values_list("audit_check__name", "crashed")) == {
        ("unset", True), ("healthy", False)
    }


def test_the_last_success_gauge_of_a_check_that_cannot_run_is_0(unset_variable, client):
    client.get("/checks/cfg/unset")
    text = client.get("/__metrics__").content.decode()
    (family,) = [f for f in text_string_to_metric_families(text)
                 if f.name == "telescope_check_last_success"]
    gauges = {s.labels["check"]: s.value for s in family.samples if s.labels["project"] == "cfg"}
    assert gauges == {"unset": 0.0}


# --- The dashboard ----------------------------------------------------------------------


def test_a_crashed_check_is_counted_failing_and_shown_crashed(unset_variable, staff_client):
    runner.run_check(unset_variable)
    html = staff_client.get("/dashboard/").content.decode()
    assert 'data-check="cfg/unset" data-state="failing"' in html
    assert re.search(r'data-check="cfg/unset"[^>]*>.*?<span class="st">crashed</span>', html)
    assert re.search(r"1 failing check\b", html)


def test_a_crashed_check_page_says_it_crashed(unset_variable, staff_client):
    runner.run_check(unset_variable)
    html = staff_client.get("/dashboard/checks/cfg/unset/").content.decode()
    assert "Not run yet" not in html
    assert '<span class="st">crashed</span>' in html


def test_a_check_that_recovers_is_no_longer_shown_crashed(unset_variable, monkeypatch):
    runner.run_check(unset_variable)
    monkeypatch.setenv("NEVER_SET_VARIABLE", "http://example.com")
    runner.run_check(unset_variable)
    assert not Check.objects.get(pk=unset_variable.pk).last_crashed


# --- End to end: the built-in heartbeat against a real server answering NaN -----------


@pytest.fixture
def nan_heartbeat(make_check, upstream):
    url = upstream.route(
        "/__heartbeat__", status=503, body=NAN_BODY, headers={"Content-Type": "application/json"}
    )
    return make_check("nan", "heartbeat", module="checks.core.heartbeat", params={"url": url})


def test_a_heartbeat_answering_nan_gives_json_a_history_row_and_an_alert(
    nan_heartbeat, client, caplog
):
    with caplog.at_level(logging.INFO, logger="check.state"):
        response = client.get("/checks/nan/heartbeat", HTTP_ACCEPT="application/json")
    assert (response.status_code, response["Content-Type"]) == (503, "application/json")
    assert response.json()["data"] == {"status": None}
    run = CheckRun.objects.get(audit_check=nan_heartbeat)
    assert (run.success, run.crashed, run.data) == (False, False, {"status": None})
    assert state_events(caplog) == ["nan/heartbeat is failing"]


def test_the_audit_command_exits_1_for_a_heartbeat_answering_nan(nan_heartbeat):
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "nan", stdout=out, no_color=True)
    assert exit_info.value.code == 1
    assert CheckRun.objects.filter(audit_check=nan_heartbeat).count() == 1


def test_the_audit_command_exits_2_and_stores_a_check_that_cannot_run(unset_variable):
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "cfg", stdout=io.StringIO(), no_color=True)
    assert exit_info.value.code == 2
    assert CheckRun.objects.get(audit_check=unset_variable).crashed


def test_a_heartbeat_answering_nan_with_200_passes_with_null(make_check, upstream, client):
    url = upstream.route("/ok", body=NAN_BODY, headers={"Content-Type": "application/json"})
    make_check("nan", "ok", module="checks.core.heartbeat", params={"url": url})
    response = client.get("/checks/nan/ok")
    assert response.status_code == 200
    assert json.loads(response.content)["data"] == {"status": None}


def test_the_status_feed_labels_a_crashed_check_crashed(unset_variable, staff_client):
    runner.run_check(unset_variable)
    entry = staff_client.get("/dashboard/status.json").json()["checks"]["cfg/unset"]
    assert (entry["state"], entry["label"]) == ("failing", "crashed")
