"""Which bugs concern which check or error group, and the buglist entries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bugtracker import matching, sync
from bugtracker.models import KnownBug, Tracker
from bugtracker.tests.conftest import bz_bug

pytestmark = pytest.mark.django_db


def ids(entries) -> list:
    return [entry["id"] for entry in entries]


@pytest.mark.parametrize(
    ("whiteboard", "token", "expected"),
    [
        ("telescope prod p/x", "p/x", True),
        ("[telescope prod p/x]", "p/x", True),
        ("[telescope prod] [p/x]", "p/x", True),
        ("p/x, p/y", "p/x", True),
        ("p/x,p/y", "p/y", True),
        ("(p/x)", "p/x", True),
        ("p/x", "p/x", True),
        ("telescope prod p/x-2", "p/x", False),  # Telescope's substring quirk
        ("telescope prod p/x2", "p/x", False),
        ("telescope prod p/x.y", "p/x", False),
        ("telescope prod p/x:y", "p/x", False),
        ("telescope prod pp/x", "p/x", False),
        ("telescope prod op/x", "p/x", False),
        ("telescope prod", "p/x", False),
        ("", "p/x", False),
        ("errors:shop/KeyError@app.py:1", "errors:shop/KeyError@app.py:1", True),
        ("errors:shop/KeyError@app.py:12", "errors:shop/KeyError@app.py:1", False),
        ("[errors:shop/Key Error(x)]", "errors:shop/Key Error(x)", True),
    ],
)
def test_tokens_are_whole_words(whiteboard, token, expected):
    assert matching.has_token(whiteboard, token) is expected


def test_a_bug_of_p_x_is_not_a_bug_of_p_x_2(make_check, make_bug):
    x, x2 = make_check("p", "x"), make_check("p", "x-2")
    make_bug("1", whiteboard="telescope prod p/x")
    make_bug("2", whiteboard="telescope prod p/x-2")
    bugs = matching.buglists_for_checks([x, x2])
    assert ids(bugs[x.pk]) == [1]
    assert ids(bugs[x2.pk]) == [2]


def test_a_bug_naming_several_checks_belongs_to_each(make_check, make_bug):
    a, b, c = make_check("p", "a"), make_check("p", "b"), make_check("q", "a")
    make_bug("1", whiteboard="[telescope prod p/a q/a]")
    bugs = matching.buglists_for_checks([a, b, c])
    assert (ids(bugs[a.pk]), ids(bugs[b.pk]), ids(bugs[c.pk])) == ([1], [], [1])


def test_admin_links_attach_bugs_without_a_whiteboard(make_check, make_bug):
    a, b = make_check("p", "a"), make_check("p", "b")
    make_bug("OPS-7", checks=[a])
    make_bug("9", whiteboard="telescope prod p/b", checks=[b])  # both: listed once
    bugs = matching.buglists_for_checks([a, b])
    assert ids(bugs[a.pk]) == ["OPS-7"]
    assert ids(bugs[b.pk]) == [9]


def test_links_to_other_checks_do_not_leak(make_check, make_bug):
    a, b = make_check("p", "a"), make_check("p", "b")
    make_bug("1", whiteboard="p/a", checks=[b])
    bugs = matching.buglists_for_checks([a])
    assert ids(bugs[a.pk]) == [1]
    assert ids(matching.buglists_for_checks([b])[b.pk]) == [1]


def test_one_query_for_any_number_of_checks(make_check, make_bug, django_assert_num_queries):
    checks = [make_check("p", f"c{i}") for i in range(20)]
    for i, check in enumerate(checks):
        make_bug(f"{i}", whiteboard=f"telescope prod p/c{i}", checks=checks[i:i + 3])
    with django_assert_num_queries(1):
        bugs = matching.buglists_for_checks(checks)
    assert ids(bugs[checks[0].pk]) == [0]
    assert sorted(ids(bugs[checks[5].pk])) == [3, 4, 5]


def test_no_checks_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert matching.buglists_for_checks([]) == {}


def test_entries_order_and_heat(make_check, make_bug):
    check = make_check("p", "a")
    wb = "p/a"
    make_bug("closed-recent", whiteboard=wb, is_open=False, hours_ago=1)
    make_bug("open-old", whiteboard=wb, hours_ago=800)
    make_bug("open-new", whiteboard=wb, hours_ago=2)
    make_bug("open-mid", whiteboard=wb, hours_ago=300)
    make_bug("open-undated", whiteboard=wb, hours_ago=None)
    make_bug("closed-old", whiteboard=wb, is_open=False, hours_ago=5000)
    entries = matching.buglists_for_checks([check])[check.pk]
    assert ids(entries) == [
        "open-new", "open-mid", "open-old", "open-undated", "closed-recent", "closed-old",
    ]
    heat = {entry["id"]: entry["heat"] for entry in entries}
    assert heat == {
        "open-new": "hot", "open-mid": "", "open-old": "cold", "open-undated": "",
        "closed-recent": "hot", "closed-old": "cold",
    }


def test_heat_limits():
    now = timezone.now()
    from bugtracker.models import heat

    assert heat(now - timedelta(hours=239, minutes=59), now) == "hot"
    assert heat(now - timedelta(hours=240), now) == ""
    assert heat(now - timedelta(hours=720), now) == ""
    assert heat(now - timedelta(hours=720, seconds=1), now) == "cold"
    assert heat(None, now) == ""


def test_entry_fields(make_check, make_bug, settings):
    settings.BUGTRACKER_URL = "https://bugzilla.example.com"
    check = make_check("p", "a")
    changed = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    make_bug("42", tracker=Tracker.BUGZILLA, whiteboard="p/a", summary="Down", status="NEW",
             last_change_time=changed, hours_ago=None, url="https://stale.example.com/42")
    make_bug("OPS-1", whiteboard="p/a", url="https://jira.example.com/OPS-1", status="Open",
             is_open=False, hours_ago=None)
    first, second = matching.buglists_for_checks([check])[check.pk]
    assert first == {
        "id": 42, "summary": "Down", "open": True, "status": "NEW",
        "last_update": changed.strftime("%Y-%m-%dT%H:%M:%SZ"), "heat": "hot",
        "url": "https://bugzilla.example.com/42",
    }
    assert second == {
        "id": "OPS-1", "summary": "Summary of OPS-1", "open": False, "status": "Open",
        "last_update": None, "heat": "", "url": "https://jira.example.com/OPS-1",
    }


def test_numeric_manual_references_are_numbers(make_check, make_bug):
    check = make_check("p", "a")
    make_bug("123", whiteboard="p/a", url="https://github.com/o/r/issues/123")
    (entry,) = matching.buglists_for_checks([check])[check.pk]
    assert entry["id"] == 123 and entry["url"] == "https://github.com/o/r/issues/123"


def test_confidential_bugs_show_their_id_only(make_check, make_bug, settings):
    settings.BUGTRACKER_URL = "https://bugzilla.example.com"
    check = make_check("p", "a")
    make_bug("1", whiteboard="p/a", summary="Hand-flagged secret", confidential=True)
    make_bug("2", tracker=Tracker.BUGZILLA, whiteboard="p/a", restricted=True, summary="")
    entries = matching.buglists_for_checks([check])[check.pk]
    assert sorted(ids(entries)) == [1, 2]
    assert all(entry["summary"] == "" for entry in entries)
    assert "Hand-flagged secret" not in str(entries)
    assert "secret" not in str(KnownBug.objects.get(bug_id="1"))


def test_manual_bugs_work_with_bugzilla_off(make_check, make_bug, settings, no_lazy_sync):
    settings.BUGTRACKER_URL = ""
    check = make_check("p", "a")
    make_bug("OPS-1", whiteboard="p/a", url="https://jira.example.com/OPS-1")
    make_bug("5", tracker=Tracker.BUGZILLA, whiteboard="p/a")  # synced before it was off
    entries = matching.buglists_for_checks([check])[check.pk]
    assert ids(entries) == ["OPS-1"]
    assert entries[0]["url"] == "https://jira.example.com/OPS-1"
    assert no_lazy_sync == []


def test_bugs_missing_from_the_last_sync_are_hidden(make_check, make_bug, settings,
                                                    no_lazy_sync):
    settings.BUGTRACKER_URL = "https://bugzilla.example.com"
    check = make_check("p", "a")
    make_bug("5", tracker=Tracker.BUGZILLA, whiteboard="p/a", checks=[check],
             missing_since=timezone.now())
    make_bug("6", tracker=Tracker.BUGZILLA, whiteboard="p/a")
    assert ids(matching.buglists_for_checks([check])[check.pk]) == [6]


# --- error groups -----------------------------------------------------------------------


def test_error_group_tokens_and_links(make_group, make_bug, django_assert_num_queries):
    group = make_group("KeyError@app.py:1", service="shop")
    other = make_group("KeyError@app.py:12", service="shop")
    make_bug("1", whiteboard="telescope prod errors:shop/KeyError@app.py:1")
    make_bug("2", whiteboard="errors:shop/KeyError@app.py:12")
    make_bug("3", groups=[group])
    make_bug("4", whiteboard="errors:cart/KeyError@app.py:1")  # another service
    make_bug("5", whiteboard="shop/KeyError@app.py:1")  # not the errors: token
    with django_assert_num_queries(1):
        entries = matching.buglist_for_error_group(group)
    assert sorted(ids(entries)) == [1, 3]
    assert ids(matching.buglist_for_error_group(other)) == [2]


# --- freshness --------------------------------------------------------------------------


def test_showing_bugs_queues_a_sync_when_stale_only(bugzilla, make_check, no_lazy_sync):
    check = make_check("p", "a")
    matching.buglists_for_checks([check])
    assert no_lazy_sync == [(False,)]
    sync.sync()
    no_lazy_sync.clear()
    matching.buglists_for_checks([check])
    assert no_lazy_sync == []


def test_a_synced_bug_is_matched(bugzilla, make_check, no_lazy_sync):
    a, a2 = make_check("p", "a"), make_check("p", "a-2")
    bugzilla.answer([bz_bug(77, "[telescope prod p/a]", summary="Flaky")])
    sync.sync()
    bugs = matching.buglists_for_checks([a, a2])
    (entry,) = bugs[a.pk]
    assert entry["id"] == 77 and entry["summary"] == "Flaky"
    assert entry["url"] == f"{bugzilla.upstream.url('').rstrip('/')}/77"
    assert bugs[a2.pk] == []
