"""`GET /checks`: every enabled check described, in config order, none run."""

import inspect

import checks.core.heartbeat
from audits.tests.checkmods import counter, echo

INFO_FIELDS = {
    "name", "project", "module", "tags", "description", "documentation", "url",
    "ttl", "parameters", "troubleshooting", "depends_on",
}


def test_checks_list_is_empty_without_checks(client, db):
    response = client.get("/checks")
    assert response.status_code == 200
    assert response.json() == []


def test_checks_list_describes_a_check_with_telescope_fields(client, make_check, settings):
    settings.TROUBLESHOOTING_LINK_TEMPLATE = "https://wiki.test/{project}/{check}"
    make_check(
        "web", "home", "echo", params={"url": "https://example.com", "limit": 3},
        tags=["prod", "critical"], description="Home **answers**", ttl=30,
    )
    response = client.get("/checks")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    [info] = response.json()
    assert set(info) == INFO_FIELDS
    assert info == {
        "name": "home",
        "project": "web",
        "module": "audits.tests.checkmods.echo",
        "tags": ["critical", "prod"],
        "description": "Home **answers**",
        "documentation": inspect.cleandoc(echo.__doc__),
        "url": "/checks/web/home",
        "ttl": 30,
        "parameters": {"url": "https://example.com"},
        "troubleshooting": "https://wiki.test/web/home",
        "depends_on": [],
    }


def test_checks_list_is_in_config_order_across_projects(client, make_check):
    make_check("zeta", "last", position=2)
    make_check("alpha", "first", position=0)
    make_check("zeta", "middle", position=1)
    names = [(c["project"], c["name"]) for c in client.get("/checks").json()]
    assert names == [("alpha", "first"), ("zeta", "middle"), ("zeta", "last")]


def test_checks_list_documentation_is_the_cleaned_module_docstring(client, make_check):
    make_check("web", "heartbeat", "checks.core.heartbeat", params={"url": "http://h/"})
    [info] = client.get("/checks").json()
    assert info["documentation"] == inspect.cleandoc(checks.core.heartbeat.__doc__)
    assert info["documentation"].startswith("URL should answer")
    assert not info["documentation"].endswith("\n")


def test_checks_list_ttl_is_default_ttl_when_unset(client, make_check, settings):
    settings.DEFAULT_TTL = 120
    make_check()
    assert client.get("/checks").json()[0]["ttl"] == 120


def test_checks_list_ttl_zero_stays_zero(client, make_check, settings):
    settings.DEFAULT_TTL = 120
    make_check(ttl=0)
    assert client.get("/checks").json()[0]["ttl"] == 0


def test_checks_list_parameters_are_only_the_exposed_ones(client, make_check):
    make_check(params={"url": "https://e.test", "ok": False, "limit": 9, "names": ["a"]})
    assert client.get("/checks").json()[0]["parameters"] == {
        "url": "https://e.test", "ok": False,
    }


def test_checks_list_parameters_are_empty_for_a_module_exposing_none(client, make_check):
    make_check(module="counter", params={"key": "k", "seconds": 0})
    assert client.get("/checks").json()[0]["parameters"] == {}


def test_checks_list_keeps_placeholders_unresolved_when_variable_is_set(
    client, make_check, monkeypatch
):
    monkeypatch.setenv("LIST_API_TOKEN", "tok-very-secret-123")
    make_check(params={"url": "https://h/?token=${LIST_API_TOKEN}"})
    response = client.get("/checks")
    assert response.json()[0]["parameters"]["url"] == "https://h/?token=${LIST_API_TOKEN}"
    assert b"tok-very-secret-123" not in response.content


def test_checks_list_troubleshooting_follows_the_template(client, make_check, settings):
    settings.TROUBLESHOOTING_LINK_TEMPLATE = "https://docs.test/runbook#{project}-{check}"
    make_check("api", "latency")
    assert client.get("/checks").json()[0]["troubleshooting"] == (
        "https://docs.test/runbook#api-latency"
    )


def test_checks_list_default_troubleshooting_link(client, make_check):
    make_check("api", "latency")
    assert client.get("/checks").json()[0]["troubleshooting"] == (
        "https://wiki.example.com/troubleshooting.html#api/latency"
    )


def test_checks_list_runs_nothing(client, make_check):
    make_check(module="counter", params={"key": "x"})
    make_check(name="other", module="counter", params={"key": "y"})
    assert client.get("/checks").status_code == 200
    assert counter.calls() == []


def test_checks_list_hides_disabled_checks(client, make_check):
    make_check("web", "on")
    make_check("web", "off", enabled=False)
    assert [c["name"] for c in client.get("/checks").json()] == ["on"]


def test_checks_list_still_answers_when_a_module_is_unavailable(client, make_check):
    make_check(module="no_run", params={})
    response = client.get("/checks")
    assert response.status_code == 200
    [info] = response.json()
    assert "unavailable" in info["documentation"]
    assert info["parameters"] == {}


def test_checks_list_ignores_the_accept_header(client, make_check):
    make_check()
    response = client.get("/checks", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response.json()[0]["name"] == "check"


def test_checks_list_refuses_post(client, db):
    assert client.post("/checks").status_code == 405
