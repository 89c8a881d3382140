"""The admin pages of known bugs."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from bugtracker import sync
from bugtracker.models import KnownBug, Tracker
from bugtracker.tests.conftest import bz_bug

URL = "/admin/bugtracker/knownbug/"


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("admin"))
    return client


def page(admin_client, url=URL, **params) -> str:
    response = admin_client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_list_shows_bugs_and_hides_confidential_summaries(admin_client, make_bug):
    make_bug("OPS-1", summary="Disk fills up", status="Open")
    make_bug("OPS-2", summary="Hand-flagged secret", confidential=True)
    make_bug("3", tracker=Tracker.BUGZILLA, restricted=True, summary="")
    text = page(admin_client)
    assert "Disk fills up" in text and "OPS-1" in text
    assert "OPS-2" in text and "(confidential)" in text
    assert "Hand-flagged secret" not in text
    assert text.count("(confidential)") >= 2
    for column in ("field-heat_shown", "field-is_open", "field-last_change_time",
                   "field-status", "field-tracker"):
        assert column in text


def test_searching_summaries_skips_confidential_bugs(admin_client, make_bug):
    make_bug("OPS-1", summary="Public flake")
    make_bug("OPS-2", summary="secret flake", confidential=True)
    text = page(admin_client, q="flake")
    assert "OPS-1" in text and "OPS-2" not in text
    text = page(admin_client, q="OPS-2")  # by id: found, summary still hidden
    assert "OPS-2" in text and "secret flake" not in text


@pytest.mark.parametrize(
    ("params", "shown", "hidden"),
    [
        ({"tracker": "manual"}, ["OPS-1"], ["bz-open"]),
        ({"is_open__exact": "0"}, ["closed-one"], ["OPS-1"]),
        ({"confidential": "yes"}, ["OPS-2"], ["OPS-1"]),
        ({"confidential": "no"}, ["OPS-1"], ["OPS-2"]),
        ({"returned": "no"}, ["bz-gone"], ["bz-open", "OPS-1"]),
        ({"returned": "yes"}, ["bz-open", "OPS-1"], ["bz-gone"]),
    ],
)
def test_filters(admin_client, make_bug, params, shown, hidden):
    make_bug("OPS-1")
    make_bug("OPS-2", confidential=True)
    make_bug("closed-one", is_open=False)
    make_bug("101", tracker=Tracker.BUGZILLA, summary="bz-open")
    make_bug("102", tracker=Tracker.BUGZILLA, summary="bz-gone", missing_since=timezone.now())
    text = page(admin_client, **params)
    for name in shown:
        assert name in text
    for name in hidden:
        assert name not in text


def test_add_a_manual_bug_with_links(admin_client, make_check, make_group, settings):
    settings.BUGTRACKER_URL = ""  # works with no tracker configured
    check, group = make_check("p", "a"), make_group()
    assert "autocomplete" in page(admin_client, f"{URL}add/")
    response = admin_client.post(f"{URL}add/", {
        "bug_id": "OPS-5", "url": "https://jira.example.com/OPS-5", "summary": "Slow",
        "status": "Open", "is_open": "on", "whiteboard": "",
        "checks": [check.pk], "error_groups": [group.pk],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    bug = KnownBug.objects.get(bug_id="OPS-5")
    assert bug.tracker == Tracker.MANUAL
    assert list(bug.checks.all()) == [check] and list(bug.error_groups.all()) == [group]
    (entry,) = admin_client.get("/checks/p/a").json()["buglist"]
    assert entry["id"] == "OPS-5" and entry["url"] == "https://jira.example.com/OPS-5"


def test_bugzilla_bugs_only_have_their_links_edited(admin_client, bugzilla, make_check,
                                                    no_lazy_sync):
    check = make_check("p", "a")
    bugzilla.answer([bz_bug(9, "telescope prod", summary="Synced summary")])
    sync.sync()
    bug = KnownBug.objects.get(bug_id="9")
    url = f"{URL}{bug.pk}/change/"
    text = page(admin_client, url)
    assert 'name="summary"' not in text and 'name="checks"' in text
    response = admin_client.post(url, {
        "summary": "edited", "confidential": "", "checks": [check.pk], "error_groups": [],
    })
    assert response.status_code == 302
    bug.refresh_from_db()
    assert bug.summary == "Synced summary"
    assert list(bug.checks.all()) == [check]
    (entry,) = admin_client.get("/checks/p/a").json()["buglist"]
    assert entry["id"] == 9


def test_list_tells_the_sync_state(admin_client, bugzilla, settings):
    assert "not synced yet" in page(admin_client)
    sync.sync()
    assert "bug(s) at the last sync" in page(admin_client)
    bugzilla.answer(status=500, body="down")
    sync.sync()
    assert "Bugzilla sync failed" in page(admin_client)
    settings.BUGTRACKER_URL = ""
    assert "Bugzilla is off" in page(admin_client)


def test_checks_and_groups_autocomplete(admin_client, make_check, make_group):
    make_check("p", "alpha")
    response = admin_client.get("/admin/autocomplete/", {
        "app_label": "bugtracker", "model_name": "knownbug", "field_name": "checks",
        "term": "alpha",
    })
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["p/alpha"]
    make_group("ValueError@x.py:2", service="shop")
    response = admin_client.get("/admin/autocomplete/", {
        "app_label": "bugtracker", "model_name": "knownbug", "field_name": "error_groups",
        "term": "ValueError",
    })
    assert [r["text"] for r in response.json()["results"]] == ["shop: ValueError@x.py:2"]


def test_bugzilla_ids_must_be_numbers(db):
    with pytest.raises(ValidationError):
        KnownBug(tracker=Tracker.BUGZILLA, bug_id="abc").full_clean()


def test_list_filters_by_linked_check_or_group(admin_client, make_bug, make_check, make_group):
    check, group = make_check("p", "a"), make_group()
    make_bug("OPS-1", checks=[check])
    make_bug("OPS-2", groups=[group])
    text = page(admin_client, checks__id__exact=check.pk)
    assert "OPS-1" in text and "OPS-2" not in text
    text = page(admin_client, error_groups__id__exact=group.pk)
    assert "OPS-2" in text and "OPS-1" not in text
