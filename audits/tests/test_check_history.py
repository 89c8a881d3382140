"""GET /checks/{project}/{name}/history and GET /uptime/{project}[/{name}]."""

import pytest

from audits import runner


@pytest.mark.django_db
def test_history_lists_the_runs_folded(client, make_check):
    check = make_check(params={"url": "u", "limit": 4})
    runner.run_check(check, force=True)
    runner.run_check(check, force=True)
    response = client.get("/checks/proj/check/history")
    assert response.status_code == 200
    assert [(p["success"], p["scalar"]) for p in response.json()] == [(True, 4.0)]


@pytest.mark.django_db
def test_history_of_a_check_never_run_is_empty(client, make_check):
    make_check()
    assert client.get("/checks/proj/check/history").json() == []


@pytest.mark.django_db
def test_history_of_unknown_check_is_404(client, make_check):
    make_check()
    assert client.get("/checks/proj/nope/history").status_code == 404


@pytest.mark.django_db
def test_uptime_of_a_check(client, make_check):
    check = make_check(params={"url": "u", "ok": False})
    runner.run_check(check)
    assert client.get("/uptime/proj/check").json() == {"24h": 0.0, "7d": 0.0, "30d": 0.0}


@pytest.mark.django_db
def test_uptime_of_a_project_covers_its_checks(client, make_check):
    runner.run_check(make_check(name="ok"))
    runner.run_check(make_check(name="ko", params={"url": "u", "ok": False}))
    assert client.get("/uptime/proj").json()["24h"] == 50.0


@pytest.mark.django_db
def test_uptime_of_unknown_project_or_check_is_404(client, make_check):
    make_check()
    assert client.get("/uptime/nope").status_code == 404
    assert client.get("/uptime/proj/nope").status_code == 404
