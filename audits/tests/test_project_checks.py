"""`GET /checks/{project}`: every check of a project run, 200 / 503 / 500."""

import ast
import inspect
import time
from datetime import datetime

import pytest

from audits.tests.checkmods import counter, echo

# Checks of a project run in worker threads.
pytestmark = pytest.mark.django_db(transaction=True)

RESULT_FIELDS = {
    "name", "project", "module", "tags", "description", "documentation", "url",
    "ttl", "parameters", "troubleshooting", "depends_on",
    "datetime", "duration", "success", "data", "blocked_by", "buglist", "history",
}


def test_project_with_all_checks_passing_is_200(client, make_check):
    make_check("web", "a")
    make_check("web", "b")
    response = client.get("/checks/web")
    assert response.status_code == 200
    assert [r["success"] for r in response.json()] == [True, True]


def test_project_with_one_failing_check_is_503(client, make_check):
    make_check("web", "a")
    make_check("web", "b", params={"url": "u", "ok": False})
    response = client.get("/checks/web")
    assert response.status_code == 503
    assert [r["success"] for r in response.json()] == [True, False]


def test_project_with_one_crashing_check_is_500(client, make_check):
    make_check("web", "a", params={"url": "u", "ok": False})
    make_check("web", "b", module="crash", params={"message": "kaput"})
    response = client.get("/checks/web")
    assert response.status_code == 500
    crashed = response.json()[1]
    assert crashed["success"] is False
    assert crashed["data"] == "RuntimeError: kaput"


def test_unknown_project_is_404(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_project_with_only_disabled_checks_is_404(client, make_check):
    make_check("web", "a", enabled=False)
    assert client.get("/checks/web").status_code == 404


def test_project_only_runs_its_own_checks(client, make_check):
    make_check("web", "a", module="counter", params={"key": "web"})
    make_check("db", "a", module="counter", params={"key": "db"})
    response = client.get("/checks/web")
    assert [r["project"] for r in response.json()] == ["web"]
    assert counter.calls() == ["web"]


def test_project_results_carry_info_and_result_fields(client, make_check):
    make_check(
        "web", "home", params={"url": "https://e.test", "limit": 4},
        description="Home", tags=["t1"], ttl=30,
    )
    before = datetime.now().astimezone()
    [result] = client.get("/checks/web").json()
    assert set(result) == RESULT_FIELDS
    assert result["name"] == "home"
    assert result["url"] == "/checks/web/home"
    assert result["documentation"] == inspect.cleandoc(echo.__doc__)
    assert result["parameters"] == {"url": "https://e.test"}
    assert result["success"] is True
    assert result["data"]["limit"] == 4
    assert result["buglist"] == []
    assert [p["success"] for p in result["history"]] == [True]  # this run
    assert isinstance(result["duration"], int)
    moment = datetime.fromisoformat(result["datetime"])
    assert moment.utcoffset().total_seconds() == 0
    assert abs((moment - before).total_seconds()) < 5


def test_project_results_are_in_config_order(client, make_check):
    make_check("web", "z", position=0)
    make_check("web", "a", position=2)
    make_check("web", "m", position=1)
    assert [r["name"] for r in client.get("/checks/web").json()] == ["z", "m", "a"]


def test_project_without_accept_header_answers_json(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/web")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()[0]["name"] == "a"


def test_project_with_accept_json_answers_json(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/web", HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == "application/json"


def test_project_with_accept_any_answers_json(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/web", HTTP_ACCEPT="*/*")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_project_with_accept_text_plain_answers_the_telescope_table(client, make_check):
    make_check("web", "home")
    make_check("web", "heartbeat")
    response = client.get("/checks/web", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    # project padded to the longest project + 2, name to the longest name + 2.
    assert response.content.decode() == (
        "web  home       True\n"
        "web  heartbeat  True\n"
    )


def test_project_text_table_keeps_the_failure_status_and_details(
    client, make_check, settings
):
    settings.TROUBLESHOOTING_LINK_TEMPLATE = "https://wiki.test/{project}/{check}"
    make_check("web", "ok")
    make_check("web", "down", params={"url": "https://e.test", "ok": False},
               description="The site is up")
    response = client.get("/checks/web", HTTP_ACCEPT="text/plain")
    assert response.status_code == 503
    text = response.content.decode()
    lines = text.splitlines()
    assert lines[:2] == ["web  ok    True", "web  down  False"]
    details = text.split("\n\n\n", 1)[1]
    assert details.startswith("web  down\n")
    assert "\n  Url:\n    /checks/web/down\n" in details
    assert "\n  Description:\n    The site is up\n" in details
    assert "\n  Documentation:\n    Passes when `ok` is true" in details
    # Python repr, as Telescope (key order is the database's: JSONB sorts keys).
    parameters = details.split("\n  Parameters:\n    ", 1)[1].split("\n", 1)[0]
    assert ast.literal_eval(parameters) == {"url": "https://e.test", "ok": False}
    assert '\n  Data:\n    {\n      "url": "https://e.test",\n' in details
    assert "\n  Troubleshooting:\n    https://wiki.test/web/down\n" in details
    # Only failing checks get details.
    assert "web  ok\n" not in details


def test_project_text_table_of_a_crash_is_500(client, make_check):
    make_check("web", "boom", module="crash")
    response = client.get("/checks/web", HTTP_ACCEPT="text/plain")
    assert response.status_code == 500
    assert response.content.decode().startswith("web  boom  False\n")


def test_unknown_project_in_text_is_a_404_message(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/nope", HTTP_ACCEPT="text/plain")
    assert response.status_code == 404
    assert "nope" in response.content.decode()


def test_project_with_unacceptable_accept_is_406(client, make_check):
    make_check("web", "a", module="counter")
    response = client.get("/checks/web", HTTP_ACCEPT="image/png")
    assert response.status_code == 406
    assert counter.calls() == []


def test_project_checks_run_in_parallel(client, make_check, settings):
    settings.LIMIT_GLOBAL_CONCURRENCY = 8
    for i in range(4):
        make_check("web", f"slow{i}", module="slow", params={"seconds": 0.3})
    started = time.monotonic()
    response = client.get("/checks/web")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert [r["data"] for r in response.json()] == ["finished"] * 4
    assert elapsed < 0.9  # one after the other would take 1.2 s


def test_project_results_are_served_from_cache(client, make_check):
    make_check("web", "a", module="counter", params={"key": "a"}, ttl=60)
    make_check("web", "b", module="counter", params={"key": "b"}, ttl=60)
    first = client.get("/checks/web").json()
    second = client.get("/checks/web").json()
    assert sorted(counter.calls()) == ["a", "b"]
    assert [r["datetime"] for r in first] == [r["datetime"] for r in second]


def test_project_ignores_refresh_even_when_wrong(client, make_check, settings):
    settings.REFRESH_SECRET = "right-secret"
    make_check("web", "a", module="counter", ttl=60)
    client.get("/checks/web")
    response = client.get("/checks/web?refresh=wrong")
    assert response.status_code == 200
    assert len(counter.calls()) == 1


def test_project_with_accept_text_plain_among_others_answers_text(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/web", HTTP_ACCEPT="text/plain, */*")
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_project_with_accept_text_plain_and_json_answers_text(client, make_check):
    make_check("web", "a")
    response = client.get("/checks/web", HTTP_ACCEPT="text/plain, application/json")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "web  a  True\n"
