"""The checks overview: headline, failing list, projects, filters, status feed."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits import runner
from audits.models import Check
from audits.tests.checkmods import counter
from bugtracker.models import KnownBug


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    return client


@pytest.fixture
def checks(make_check):
    make_check("web", "home", tags=["prod", "front"], alert_state="passing")
    make_check("web", "api", tags=["prod", "back"], alert_state="failing",
               description="The **API** answers.\nMore.")
    make_check("web", "old", tags=["prod", "back"], alert_state="unknown")
    make_check("db", "ping", tags=["back"], alert_state="passing")
    make_check("db", "disabled", tags=["back"], alert_state="failing", enabled=False)


def page(client, url="/dashboard/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def shown(html: str) -> list[str]:
    """The keys of the check rows of the page, in order."""
    return re.findall(r'<li class="check" data-check="([^"]+)"', html)


def states(html: str) -> dict:
    return dict(re.findall(r'<li class="check" data-check="([^"]+)" data-state="(\w+)"', html))


def test_every_enabled_check_grouped_by_project_with_its_state(staff_client, checks):
    html = page(staff_client)
    assert shown(html) == ["db/ping", "web/api", "web/home", "web/old"]
    assert states(html) == {
        "db/ping": "passing", "web/api": "failing", "web/home": "passing", "web/old": "unknown",
    }
    assert 'id="project-db" data-project="db"' in html
    assert 'data-project-badge="web" data-state="failing"' in html
    assert 'data-project-badge="db" data-state="passing"' in html
    assert 'href="/dashboard/checks/web/api/"' in html
    assert "The API answers." in html  # first line of the description, as text
    assert "<strong>API" not in html


def test_headline_counts_and_failing_checks_at_the_top(staff_client, checks):
    html = page(staff_client)
    headline = html.split('id="headline"', 1)[1].split("</section>", 1)[0]
    assert 'data-state="failing"' in headline
    assert "The system has 1 failing check" in headline
    assert 'data-count="passing">2<' in headline
    assert 'data-count="failing">1<' in headline
    assert 'data-count="unknown">1<' in headline
    failing = headline.split('class="failing-list"', 1)[1]
    assert re.findall(r'data-failing-check="([^"]+)"', failing) == ["web/api"]
    assert 'href="/dashboard/checks/web/api/"' in failing


def test_failing_checks_show_their_known_bugs(staff_client, checks):
    KnownBug.objects.create(bug_id="1234", url="https://bugs.example.com/1234",
                            summary="API down", whiteboard="[web/api]")
    headline = page(staff_client).split('class="failing-list"', 1)[1]
    assert "known bug 1234" in headline and "https://bugs.example.com/1234" in headline


def test_healthy_headline(staff_client, make_check):
    make_check("web", "home", alert_state="passing")
    html = page(staff_client)
    assert 'id="headline" class="card headline" data-state="passing"' in html
    assert "The system is currently healthy" in html
    assert '<ul class="failing-list" hidden>' in html


def test_headline_without_results_yet(staff_client, make_check):
    make_check("web", "home")
    html = page(staff_client)
    assert 'data-state="unknown"' in html and "without a result yet" in html


def test_no_checks_at_all(staff_client, db):
    assert "There is no check yet" in page(staff_client)


def test_tags_filter_is_an_and_kept_in_the_url(staff_client, checks):
    assert shown(page(staff_client, "/dashboard/?tags=prod")) == ["web/api", "web/home", "web/old"]
    assert shown(page(staff_client, "/dashboard/?tags=prod,back")) == ["web/api", "web/old"]
    assert shown(page(staff_client, "/dashboard/?tags=back&tags=front")) == []
    assert shown(page(staff_client, "/dashboard/?tags=nope")) == []


def test_tag_links_toggle_their_tag(staff_client, checks):
    html = page(staff_client, "/dashboard/?tags=prod&status=failing")
    links = dict(re.findall(r'<a href="([^"]+)" data-tag="([^"]+)"', html))
    links = {tag: href for href, tag in links.items()}
    assert links["back"] == "?tags=back,prod&amp;status=failing"
    assert links["prod"] == "?status=failing"  # selected: its link unselects it
    assert re.search(r'data-tag="prod" class="selected"', html)
    # The search form keeps the selected tags.
    form = html.split('<form id="search"', 1)[1].split("</form>", 1)[0]
    assert 'name="tags" value="prod"' in form


def test_filter_by_project_status_and_name(staff_client, checks):
    assert shown(page(staff_client, "/dashboard/?project=db")) == ["db/ping"]
    assert shown(page(staff_client, "/dashboard/?status=failing")) == ["web/api"]
    assert shown(page(staff_client, "/dashboard/?status=unknown")) == ["web/old"]
    assert shown(page(staff_client, "/dashboard/?q=HOM")) == ["web/home"]
    assert shown(page(staff_client, "/dashboard/?q=web/a")) == ["web/api"]
    assert shown(page(staff_client, "/dashboard/?q=p&tags=back&status=passing")) == ["db/ping"]
    html = page(staff_client, "/dashboard/?q=zzz")
    assert shown(html) == [] and "No check matches these filters" in html


def test_filters_leave_the_headline_about_the_whole_system(staff_client, checks):
    html = page(staff_client, "/dashboard/?project=db")
    assert "The system has 1 failing check" in html
    assert "1 of 4 checks shown" in html


def test_the_page_runs_no_check(staff_client, make_check):
    for i in range(3):
        make_check("p", f"c{i}", module="counter")
    page(staff_client)
    staff_client.get("/dashboard/status.json")
    assert counter.calls() == []


def test_the_page_polls_at_the_smallest_ttl_between_5_and_60_s(staff_client, make_check):
    make_check("p", "a", ttl=30)
    make_check("p", "b", ttl=600)
    assert 'data-refresh="30"' in page(staff_client)
    make_check("p", "c", ttl=0)
    assert 'data-refresh="5"' in page(staff_client)
    assert staff_client.get("/dashboard/status.json").json()["refresh"] == 5


def test_status_feed_gives_state_and_update_time_from_the_database(staff_client, make_check):
    ran = make_check("web", "ran", params={"url": "http://x", "ok": False})
    make_check("web", "never")
    result = runner.run_check(ran)
    response = staff_client.get("/dashboard/status.json")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["refresh"] == 60
    assert body["checks"]["web/never"] == {
        "state": "unknown", "label": "unknown", "updated": None, "blocked_by": []
    }
    entry = body["checks"]["web/ran"]
    assert entry["state"] == "failing"
    assert entry["updated"] == result.datetime[:19] + "Z"
    one = staff_client.get("/dashboard/status.json?check=web/ran").json()["checks"]
    assert list(one) == ["web/ran"]


def test_status_feed_is_a_304_when_nothing_changed(staff_client, make_check):
    check = make_check("web", "home")
    first = staff_client.get("/dashboard/status.json")
    again = staff_client.get("/dashboard/status.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    runner.run_check(check)
    changed = staff_client.get("/dashboard/status.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed.json()["checks"]["web/home"]["state"] == "passing"


def test_pages_are_gzipped_when_the_browser_accepts_it(staff_client, checks):
    response = staff_client.get("/dashboard/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_overview_queries_do_not_grow_with_the_number_of_checks(staff_client, make_check):
    def add(n, start):
        for i in range(start, start + n):
            check = make_check(f"p{i % 7}", f"c{i}", tags=[f"t{i % 3}", f"u{i % 2}"],
                               alert_state=["passing", "failing", "unknown"][i % 3],
                               last_success=[True, False, None][i % 3])
            if i >= 2:  # depends on c1, failing: the failing ones are blocked
                check.depends_on.add(Check.objects.get(name="c1"))

    add(5, 0)
    few = queries_of(staff_client, "/dashboard/?tags=t1")
    few_all = queries_of(staff_client, "/dashboard/")
    add(45, 5)
    assert queries_of(staff_client, "/dashboard/?tags=t1") == few
    assert queries_of(staff_client, "/dashboard/") == few_all
    assert "by p" in staff_client.get("/dashboard/").content.decode()  # blocked ones shown
    # Session, user, checks, tags, failing checks, their parents, known bugs of the
    # failing checks.
    assert few_all <= 7
    assert queries_of(staff_client, "/dashboard/status.json") <= 5


def test_the_page_carries_the_stable_selectors(staff_client, checks):
    html = page(staff_client)
    assert 'id="headline"' in html and 'class="failing-list"' in html
    assert '<form id="search"' in html and 'data-tag="prod"' in html
    assert 'data-status-url="/dashboard/status.json"' in html
    assert "/static/dashboard/checks.js" in html
