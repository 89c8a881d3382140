"""Known bugs in Telescope's check results, in error groups, and in the heartbeat."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bugtracker import sync
from bugtracker.tests.conftest import API_KEY, bz_bug
from testing.waiting import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(bugzilla, make_check):
    """Checks p/a and p/a-2, and a good list from the fake Bugzilla."""
    make_check("p", "a")
    make_check("p", "a-2")
    bugzilla.answer([
        bz_bug(1, "telescope prod [p/a]", summary="Flaky upstream", hours_ago=2),
        bz_bug(2, "telescope prod p/a", summary="Security hole", groups=["security"],
               hours_ago=1),
        bz_bug(3, "telescope prod p/a", summary="Old one", status="RESOLVED", is_open=False,
               hours_ago=1),
        bz_bug(4, "telescope prod p/a-2", summary="Other check", hours_ago=1000),
    ])
    assert sync.sync()["ok"]
    return bugzilla


def test_check_result_has_its_buglist(client, synced):
    result = client.get("/checks/p/a").json()
    base = synced.upstream.url("").rstrip("/")
    assert [bug["id"] for bug in result["buglist"]] == [2, 1, 3]
    first = result["buglist"][0]
    assert set(first) == {"id", "summary", "open", "status", "last_update", "heat", "url"}
    assert first["url"] == f"{base}/2"
    assert result["buglist"][1]["summary"] == "Flaky upstream"
    assert result["buglist"][2]["open"] is False


def test_whole_word_matching_in_project_results(client, synced):
    results = {r["name"]: r for r in client.get("/checks/p").json()}
    assert [bug["id"] for bug in results["a-2"]["buglist"]] == [4]
    assert results["a-2"]["buglist"][0]["heat"] == "cold"
    assert 4 not in [bug["id"] for bug in results["a"]["buglist"]]


def test_confidential_summaries_never_reach_the_api(client, synced, make_bug):
    make_bug("OPS-1", whiteboard="p/a", summary="Hand-flagged secret", confidential=True)
    body = client.get("/checks/p/a").content.decode()
    text = client.get("/checks/p/a", HTTP_ACCEPT="text/plain").content.decode()
    project = client.get("/checks/p").content.decode()
    for output in (body, text, project):
        assert "Security hole" not in output
        assert "Hand-flagged secret" not in output
    confidential = [bug for bug in client.get("/checks/p/a").json()["buglist"]
                    if bug["id"] in (2, "OPS-1")]
    assert len(confidential) == 2 and all(bug["summary"] == "" for bug in confidential)


def test_fresh_list_means_no_request_to_the_tracker(client, synced, no_lazy_sync):
    hits = synced.hits
    for _ in range(3):
        client.get("/checks/p/a")
    assert synced.hits == hits and no_lazy_sync == []


def test_a_slow_tracker_never_slows_a_check(client, synced):
    synced.answer([], delay=3.0)
    cache.delete(sync.STATUS_KEY)  # stale: the next page queues a sync
    started = time.monotonic()
    response = client.get("/checks/p/a")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0, f"the check waited {elapsed:.2f}s for Bugzilla"
    assert [bug["id"] for bug in response.json()["buglist"]] == [2, 1, 3]
    # The queued sync ran in the background, timed out, and kept the list.
    wait_until(lambda: (sync.status() or {}).get("ok") is False)
    assert "timed out after 0.5 s" in sync.status()["error"]
    assert [bug["id"] for bug in client.get("/checks/p/a").json()["buglist"]] == [2, 1, 3]


@pytest.mark.parametrize("answer", [{"status": 503, "body": "down"},
                                    {"status": 200, "body": "<html>garbage"}])
def test_a_broken_tracker_never_fails_a_check(client, synced, answer):
    synced.answer(**answer)
    assert sync.sync()["ok"] is False
    response = client.get("/checks/p/a")
    assert response.status_code == 200
    assert [bug["id"] for bug in response.json()["buglist"]] == [2, 1, 3]


def test_tracker_off_shows_manual_bugs_only(client, synced, settings, make_bug):
    settings.BUGTRACKER_URL = ""
    make_bug("OPS-9", whiteboard="p/a", url="https://jira.example.com/OPS-9")
    hits = synced.hits
    (bug,) = client.get("/checks/p/a").json()["buglist"]
    assert bug["id"] == "OPS-9" and bug["url"] == "https://jira.example.com/OPS-9"
    assert synced.hits == hits


def test_result_buglist_costs_one_query(client, synced):
    client.get("/checks/p")
    with CaptureQueriesContext(connection) as captured:
        client.get("/checks/p")
    bug_queries = [q for q in captured.captured_queries if "bugtracker_knownbug" in q["sql"]]
    assert len(bug_queries) == 1


# --- error groups -----------------------------------------------------------------------


def test_error_group_detail_lists_its_known_bugs(client, synced, make_group, make_bug):
    group = make_group("KeyError@app.py:1", service="shop")
    make_group("KeyError@app.py:1", service="cart")
    make_bug("OPS-3", groups=[group], summary="Linked by hand", hours_ago=5)
    synced.answer([bz_bug(50, "telescope prod errors:shop/KeyError@app.py:1", summary="Key",
                          hours_ago=1)])
    sync.sync()
    detail = client.get(f"/api/errors/groups/{group.pk}/").json()
    assert [bug["id"] for bug in detail["known_bugs"]] == [50, "OPS-3"]
    assert detail["known_bugs"][0]["url"].endswith("/50")
    listing = client.get("/api/errors/groups/").json()["results"]
    assert all("known_bugs" not in row for row in listing)


def test_error_group_confidential_bug(client, synced, make_group):
    group = make_group("KeyError@app.py:1", service="shop")
    synced.answer([bz_bug(51, "errors:shop/KeyError@app.py:1", summary="Leaky",
                          groups=["security"])])
    sync.sync()
    (bug,) = client.get(f"/api/errors/groups/{group.pk}/").json()["known_bugs"]
    assert bug["id"] == 51 and bug["summary"] == ""


# --- heartbeat --------------------------------------------------------------------------


def test_heartbeat_reports_bugzilla_without_calling_it(client, bugzilla, settings):
    assert client.get("/__heartbeat__").json()["bugzilla"] == "not synced yet"
    sync.sync()
    hits = bugzilla.hits
    response = client.get("/__heartbeat__")
    assert response.status_code == 200 and response.json()["bugzilla"] == "ok"
    assert bugzilla.hits == hits


def test_heartbeat_stays_200_when_bugzilla_fails(client, bugzilla, settings):
    settings.BUGTRACKER_API_KEY = API_KEY
    bugzilla.answer(status=500, body=f"oops {API_KEY}")
    sync.sync()
    response = client.get("/__heartbeat__")
    assert response.status_code == 200
    entry = response.json()["bugzilla"]
    assert entry.startswith("Bugzilla sync failed at ") and "HTTP 500" in entry
    assert "(last success: never)" in entry
    assert API_KEY not in entry


def test_heartbeat_when_bugzilla_is_off(client, db, settings):
    settings.BUGTRACKER_URL = ""
    assert client.get("/__heartbeat__").json()["bugzilla"] == "disabled"
