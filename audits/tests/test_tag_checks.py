"""`GET /checks/tags/{tags}`: checks that have every tag (`a+b` = a AND b)."""

import pytest

from audits.tests.checkmods import counter

# Checks of a tag run in worker threads.
pytestmark = pytest.mark.django_db(transaction=True)


def _names(response):
    return [(r["project"], r["name"]) for r in response.json()]


def test_one_tag_runs_its_checks_across_projects(client, make_check):
    make_check("web", "home", tags=["a"])
    make_check("db", "ping", tags=["a", "b"])
    make_check("web", "other", tags=["b"])
    response = client.get("/checks/tags/a")
    assert response.status_code == 200
    assert _names(response) == [("web", "home"), ("db", "ping")]
    assert {"datetime", "success", "data", "buglist", "history"} <= set(response.json()[0])


def test_two_tags_joined_by_plus_need_both(client, make_check):
    make_check("web", "only-a", tags=["a"])
    make_check("web", "both", tags=["a", "b"])
    make_check("db", "both-too", tags=["b", "a", "c"])
    make_check("db", "only-b", tags=["b"])
    response = client.get("/checks/tags/a+b")
    assert response.status_code == 200
    assert _names(response) == [("web", "both"), ("db", "both-too")]


def test_tag_results_run_only_the_tagged_checks(client, make_check):
    make_check("web", "x", module="counter", params={"key": "x"}, tags=["a"])
    make_check("web", "y", module="counter", params={"key": "y"}, tags=["b"])
    client.get("/checks/tags/a")
    assert counter.calls() == ["x"]


def test_tag_with_a_failing_check_is_503(client, make_check):
    make_check("web", "ok", tags=["a"])
    make_check("db", "down", params={"url": "u", "ok": False}, tags=["a"])
    assert client.get("/checks/tags/a").status_code == 503


def test_tag_with_a_crashing_check_is_500(client, make_check):
    make_check("web", "ok", tags=["a"])
    make_check("db", "boom", module="crash", tags=["a"])
    assert client.get("/checks/tags/a").status_code == 500


def test_unknown_tag_is_404(client, make_check):
    make_check("web", "home", tags=["a"])
    response = client.get("/checks/tags/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_tags_that_no_check_has_together_are_404(client, make_check):
    make_check("web", "x", tags=["a"])
    make_check("web", "y", tags=["b"])
    assert client.get("/checks/tags/a+b").status_code == 404


def test_tag_of_disabled_checks_only_is_404(client, make_check):
    make_check("web", "x", tags=["a"], enabled=False)
    assert client.get("/checks/tags/a").status_code == 404


def test_tag_results_in_text(client, make_check):
    make_check("web", "x", tags=["a"])
    make_check("database", "y", tags=["a"])
    response = client.get("/checks/tags/a", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response.content.decode() == "web       x  True\ndatabase  y  True\n"


def test_tag_with_unacceptable_accept_is_406(client, make_check):
    make_check("web", "x", tags=["a"])
    assert client.get("/checks/tags/a", HTTP_ACCEPT="image/png").status_code == 406


def test_tag_list_without_any_tag_is_404_and_runs_nothing(client, make_check):
    make_check("web", "x", module="counter", tags=["a"])
    response = client.get("/checks/tags/+")
    assert response.status_code == 404
    assert counter.calls() == []
