"""The Bugzilla sync against a fake Bugzilla on 127.0.0.1: search, cache, outages."""

import logging
import socket
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from bugtracker import sync, tasks
from bugtracker.models import KnownBug, Tracker
from bugtracker.tests.conftest import API_KEY, bz_bug

pytestmark = pytest.mark.django_db


def stored() -> dict:
    return {bug.bug_id: bug for bug in KnownBug.objects.filter(tracker=Tracker.BUGZILLA)}


# --- the search ---------------------------------------------------------------------


def test_one_search_by_service_and_environment(bugzilla):
    bugzilla.answer([bz_bug(1, "telescope prod p/n")])
    state = sync.sync()
    assert state["ok"] is True and state["bugs"] == 1
    ((path, headers),) = bugzilla.searches
    query = parse_qs(urlsplit(path).query)
    assert query["whiteboard"] == ["telescope prod"]
    fields = set(query["include_fields"][0].split(","))
    assert fields == {"id", "summary", "status", "is_open", "last_change_time", "whiteboard",
                      "groups"}
    assert "X-BUGZILLA-API-KEY" not in {name.upper() for name in headers}


def test_without_env_name_the_search_is_the_service_name(bugzilla, settings):
    settings.ENV_NAME = ""
    sync.sync()
    ((path, _),) = bugzilla.searches
    assert parse_qs(urlsplit(path).query)["whiteboard"] == ["telescope"]


def test_the_api_key_is_sent_in_its_header(bugzilla, settings):
    settings.BUGTRACKER_API_KEY = API_KEY
    sync.sync()
    ((_, headers),) = bugzilla.searches
    headers = {name.upper(): value for name, value in headers.items()}
    assert headers["X-BUGZILLA-API-KEY"] == API_KEY
    assert API_KEY not in urlsplit(bugzilla.searches[0][0]).query


def test_bugs_are_stored(bugzilla):
    bugzilla.answer([
        bz_bug(10, "telescope prod p/a", summary="Broken", status="ASSIGNED"),
        bz_bug(11, "telescope prod p/b", status="RESOLVED", is_open=False, hours_ago=1000),
    ])
    sync.sync()
    bugs = stored()
    assert set(bugs) == {"10", "11"}
    ten = bugs["10"]
    assert (ten.summary, ten.status, ten.is_open) == ("Broken", "ASSIGNED", True)
    assert bugs["10"].whiteboard == "telescope prod p/a"
    assert bugs["10"].url == f"{bugzilla.upstream.url('').rstrip('/')}/10"
    assert bugs["11"].is_open is False
    assert bugs["11"].last_change_time is not None


def test_a_second_sync_updates_in_place(bugzilla):
    bugzilla.answer([bz_bug(10, "telescope prod p/a", status="NEW")])
    sync.sync()
    first = stored()["10"].pk
    bugzilla.answer([bz_bug(10, "telescope prod p/a", status="RESOLVED", is_open=False)])
    sync.sync()
    bug = stored()["10"]
    assert bug.pk == first and bug.status == "RESOLVED" and bug.is_open is False
    assert KnownBug.objects.count() == 1


def test_confidential_summaries_are_never_stored_nor_logged(bugzilla, caplog):
    caplog.set_level(logging.DEBUG)
    bugzilla.answer([bz_bug(7, "telescope prod p/a", summary="Secret hole in login",
                            groups=["core-security"])])
    sync.sync()
    bug = stored()["7"]
    assert bug.restricted is True and bug.is_confidential
    assert bug.summary == ""
    assert "Secret hole" not in caplog.text
    assert "Secret hole" not in str(bug)


def test_bugs_no_longer_returned_are_hidden_not_deleted(bugzilla, make_check):
    check = make_check("p", "a")
    bugzilla.answer([bz_bug(1, "telescope prod p/a"), bz_bug(2, "telescope prod p/a")])
    sync.sync()
    stored()["2"].checks.add(check)  # linked in admin
    bugzilla.answer([bz_bug(1, "telescope prod p/a")])
    sync.sync()
    bugs = stored()
    assert bugs["1"].missing_since is None
    assert bugs["2"].missing_since is not None
    assert list(bugs["2"].checks.all()) == [check]  # the link survives
    assert set(KnownBug.objects.visible().values_list("bug_id", flat=True)) == {"1"}
    bugzilla.answer([bz_bug(1, "telescope prod p/a"), bz_bug(2, "telescope prod p/a")])
    sync.sync()
    assert stored()["2"].missing_since is None  # back again


def test_manual_bugs_are_untouched_by_a_sync(bugzilla, make_bug):
    make_bug("1", whiteboard="p/a")  # manual, same number as a Bugzilla bug
    bugzilla.answer([bz_bug(1, "telescope prod p/a")])
    sync.sync()
    bugzilla.answer([])
    sync.sync()
    manual = KnownBug.objects.get(tracker=Tracker.MANUAL)
    assert manual.missing_since is None and manual.summary == "Summary of 1"


# --- the cache: one search per BUGTRACKER_TTL ------------------------------------------


def test_a_second_sync_within_the_ttl_makes_no_request(bugzilla):
    sync.sync(force=False)
    assert sync.sync(force=False) is None
    assert bugzilla.hits == 1
    assert tasks.request_sync_if_stale() is False


def test_after_the_ttl_it_searches_again(bugzilla, settings):
    sync.sync(force=False)
    settings.BUGTRACKER_TTL = 0
    sync.sync(force=False)
    assert bugzilla.hits == 2


def test_the_periodic_task_always_searches(bugzilla):
    tasks.sync_bugs()
    tasks.sync_bugs()
    assert bugzilla.hits == 2


def test_a_stale_list_queues_one_sync_and_returns_at_once(bugzilla, no_lazy_sync):
    assert tasks.request_sync_if_stale() is True
    assert tasks.request_sync_if_stale() is False  # already queued
    assert no_lazy_sync == [(False,)]
    assert bugzilla.hits == 0


def test_a_sync_already_running_is_not_run_twice(bugzilla):
    cache.add(sync.RUNNING_KEY, "someone else", timeout=60)
    assert sync.sync() is None
    assert bugzilla.hits == 0


# --- a tracker down, slow or answering garbage ------------------------------------------


@pytest.fixture
def good_list(bugzilla):
    bugzilla.answer([bz_bug(1, "telescope prod p/a", summary="Known")])
    assert sync.sync()["ok"]
    return bugzilla


def assert_last_good_list_kept(state):
    assert state["ok"] is False and state["error"]
    assert state["bugs"] == 1 and state["last_success"]
    (bug,) = KnownBug.objects.visible()
    assert (bug.bug_id, bug.summary, bug.missing_since) == ("1", "Known", None)


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "body": "Internal Server Error"},
        {"status": 401, "body": '{"error": true, "message": "bad key", "code": 306}'},
        {"status": 200, "body": "<html>maintenance</html>"},
        {"status": 200, "body": '{"faults": []}'},
        {"status": 200, "body": '{"bugs": {"1": {}}}'},
        {"status": 200, "body": '{"bugs": [{"id": "1"}]}'},
        {"status": 200, "body": '{"bugs": [{"id": 2, "summary": ["x"]}]}'},
        {"status": 200, "body": '{"bugs": [{"id": 2, "last_change_time": "yesterday"}]}'},
        {"status": 200, "body": '{"error": true, "code": 32000}'},
        {"status": 200, "body": b"\xff\xfe garbage"},
    ],
    ids=["500", "401", "html", "no-bugs", "bugs-not-list", "id-string", "summary-list",
         "bad-time", "error-200", "binary"],
)
def test_a_bad_answer_keeps_the_last_good_list(good_list, answer, caplog):
    good_list.answer(**answer)
    with caplog.at_level(logging.WARNING, logger="bugtracker.sync"):
        state = sync.sync()
    assert_last_good_list_kept(state)
    assert "Bugzilla sync failed" in caplog.text


def closed_port_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_tracker_down_keeps_the_last_good_list(good_list, settings):
    settings.BUGTRACKER_URL = closed_port_url()
    state = sync.sync()
    assert_last_good_list_kept(state)
    assert "connection refused" in state["error"]


def test_a_slow_tracker_times_out_and_keeps_the_last_good_list(good_list):
    good_list.answer([], delay=2.0)
    started = time.monotonic()
    state = sync.sync()
    assert time.monotonic() - started < 1.5
    assert_last_good_list_kept(state)
    assert state["error"].endswith("failed: timed out after 0.5 s")


def test_a_failure_is_retried_sooner_than_the_ttl(good_list, settings, no_lazy_sync):
    good_list.answer(status=500, body="down")
    failed = sync.sync()
    assert sync.is_fresh(failed)  # not hammered on every page
    assert tasks.request_sync_if_stale() is False
    later = datetime.fromisoformat(failed["at"]) + timedelta(seconds=sync.RETRY_SECONDS + 1)
    assert not sync.is_fresh(failed, now=later)
    assert sync.is_fresh({**failed, "ok": True}, now=later)  # a success lasts the TTL


def test_the_api_key_never_appears_in_errors_or_logs(bugzilla, settings, caplog):
    settings.BUGTRACKER_API_KEY = API_KEY
    bugzilla.answer(status=401, body=f"The API key {API_KEY} is invalid")
    with caplog.at_level(logging.DEBUG):
        state = sync.sync()
    assert state["ok"] is False
    assert API_KEY not in state["error"]
    assert API_KEY not in caplog.text
    assert API_KEY not in sync.heartbeat_entry()


def test_a_cache_outage_does_not_stop_the_sync(bugzilla, monkeypatch):
    class BrokenCache:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("redis is down")
            return fail

    monkeypatch.setattr(sync, "cache", BrokenCache())
    bugzilla.answer([bz_bug(1, "telescope prod p/a")])
    assert sync.sync()["ok"] is True
    assert set(stored()) == {"1"}
    assert tasks.request_sync_if_stale() is False  # and pages are not broken


# --- turned off -------------------------------------------------------------------------


def test_an_empty_url_turns_bugzilla_off(bugzilla, settings, no_lazy_sync):
    settings.BUGTRACKER_URL = ""
    assert sync.sync() is None
    assert tasks.request_sync_if_stale() is False
    assert bugzilla.hits == 0 and no_lazy_sync == []
    assert sync.heartbeat_entry() == "disabled"


# --- the command ------------------------------------------------------------------------


def test_sync_bugs_command(bugzilla, capsys):
    bugzilla.answer([bz_bug(1, "telescope prod p/a")])
    call_command("sync_bugs")
    assert "1 bug(s)" in capsys.readouterr().out
    bugzilla.answer(status=500, body="down")
    with pytest.raises(CommandError, match="Bugzilla sync failed"):
        call_command("sync_bugs")
