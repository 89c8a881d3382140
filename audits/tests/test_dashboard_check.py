"""A check's page: Markdown, parameters, result, history plot, uptime, known bugs."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from audits.dashboard import history_chart
from audits.models import CheckRun
from bugtracker.models import KnownBug

URL = "/dashboard/checks/web/home/"


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    return client


def section(html: str, css_class: str) -> str:
    return html.split(f'class="card {css_class}', 1)[1].split("</section>", 1)[0]


def page(client, url=URL) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_description_markdown_is_rendered_and_sanitised(staff_client, make_check):
    make_check("web", "home", description=(
        "Checks the **home page**.\n\n<script>alert('x')</script>\n\n"
        "[click](javascript:alert(1)) <img src=x onerror=alert(2)> [docs](https://docs.example.com)"
    ))
    html = page(staff_client)
    description = section(html, "markdown description")
    assert "<strong>home page</strong>" in description
    assert "<script" not in description and "<img" not in description
    assert "&lt;script&gt;" in description  # shown as text, never run
    assert "javascript:" not in description
    assert 'href="https://docs.example.com"' in description
    assert 'rel="noopener noreferrer nofollow"' in description


def test_module_documentation_is_rendered(staff_client, make_check):
    make_check("web", "home")
    documentation = section(page(staff_client), "markdown documentation")
    assert "<code>ok</code>" in documentation  # echo's docstring


def test_a_broken_module_is_said_so(staff_client, make_check):
    make_check("web", "home", module="audits.tests.checkmods.no_such_module", params={})
    assert "cannot be imported" in section(page(staff_client), "markdown documentation")


def test_only_exposed_parameters_are_shown_unresolved(staff_client, make_check, monkeypatch):
    monkeypatch.setenv("HOST", "resolved.example.com")
    make_check("web", "home", params={
        "url": "https://${HOST}/health", "headers": {"Authorization": "s3cret-value"},
    })
    html = page(staff_client)
    parameters = section(html, "params")
    assert "<dt>url</dt>" in parameters
    assert "https://${HOST}/health" in parameters
    assert "resolved.example.com" not in html
    assert "s3cret-value" not in html and "Authorization" not in html


def test_the_latest_result_pretty_printed_with_duration_and_age(staff_client, make_check):
    check = make_check("web", "home", ttl=120)
    started = timezone.now() - timedelta(minutes=3, seconds=5)
    CheckRun.objects.create(audit_check=check, started_at=started, success=False,
                            duration=1234, data={"status": 503, "body": "<b>down</b>"})
    check.last_run_at, check.last_success, check.alert_state = started, False, "failing"
    check.save()
    html = page(staff_client)
    head = section(html, "check-head")
    assert 'data-check="web/home" data-state="failing"' in head
    assert "Updated" in head and "3\xa0minutes ago" in head
    assert "1234 ms" in head and "failed" in head
    assert "TTL 120 s" in head
    data = html.split('<pre class="data">', 1)[1].split("</pre>", 1)[0]
    assert '\n  &quot;status&quot;: 503,' in data
    assert "&lt;b&gt;down&lt;/b&gt;" in data


def test_a_check_never_run_says_so(staff_client, make_check):
    make_check("web", "home")
    html = page(staff_client)
    assert "Not run yet" in html and "No result yet" in html


def test_troubleshooting_api_and_badge_links(staff_client, make_check, settings):
    settings.TROUBLESHOOTING_LINK_TEMPLATE = "https://wiki.example.com/{project}/{check}"
    make_check("web", "home", tags=["prod"])
    html = page(staff_client)
    assert 'href="https://wiki.example.com/web/home"' in html
    assert 'href="/checks/web/home"' in html and 'href="/checks/web/home/history"' in html
    assert 'src="/dashboard/badges/checks/web/home.svg?v=' in html
    assert "[![web/home](http://testserver/dashboard/badges/checks/web/home.svg)]" in html
    assert 'href="/dashboard/?tags=prod"' in html


def test_known_bugs_with_their_heat(staff_client, make_check):
    check = make_check("web", "home")
    now = timezone.now()
    KnownBug.objects.create(bug_id="111", url="https://bugs.example.com/111", summary="Hot one",
                            whiteboard="[web/home]", last_change_time=now - timedelta(hours=2))
    cold = KnownBug.objects.create(bug_id="222", url="https://bugs.example.com/222",
                                   summary="Old one", is_open=False, status="RESOLVED",
                                   last_change_time=now - timedelta(days=60))
    cold.checks.add(check)
    KnownBug.objects.create(bug_id="333", summary="Other check", whiteboard="web/home-2")
    bugs = section(page(staff_client), "bugs")
    assert re.search(r'class="bug open hot"><a href="https://bugs.example.com/111">111</a> Hot one', bugs)
    assert re.search(r'class="bug closed cold"><a href="https://bugs.example.com/222">222</a>', bugs)
    assert "333" not in bugs


def add_run(check, ago, success, scalar=None, change=True):
    return CheckRun.objects.create(
        audit_check=check, started_at=timezone.now() - ago, success=success,
        duration=10, scalar=scalar, data=scalar, is_change=change,
    )


def test_history_plot_and_uptime(staff_client, make_check):
    check = make_check("web", "home")
    add_run(check, timedelta(hours=30), True, 10)
    add_run(check, timedelta(hours=5), False, 40)
    add_run(check, timedelta(hours=4), False, 40, change=False)
    add_run(check, timedelta(hours=2), True, 20)
    html = page(staff_client)
    plot = html.split('<div class="plot">', 1)[1].split("</div>", 1)[0]
    assert plot.startswith('<svg class="history-plot"')
    assert plot.count('class="band-passing"') == 2 and plot.count('class="band-failing"') == 1
    assert '<path class="plot-line" d="M' in plot  # the plot value, as a step line
    assert ">40<" in plot and ">10<" in plot  # its range
    uptime = html.split('<dl class="uptime">', 1)[1].split("</dl>", 1)[0]
    assert "Uptime 24h</dt><dd>33.33 %" in uptime  # 1 of the 3 runs of the last 24 h
    assert "Uptime 7d</dt><dd>50 %" in uptime
    # 24 h: the state at the start is the one before it (passing, from 30 h ago).
    day = page(staff_client, URL + "?range=24h")
    plot = day.split('<div class="plot">', 1)[1].split("</div>", 1)[0]
    assert plot.count('class="band-passing"') == 2
    assert 'aria-current="true">24h<' in day


def test_a_check_without_changes_kept_is_plotted_in_its_state(staff_client, make_check):
    check = make_check("web", "home")
    check.last_run_at, check.last_success, check.alert_state = timezone.now(), True, "passing"
    check.save()
    plot = page(staff_client).split('<div class="plot">', 1)[1]
    assert 'class="band-passing"' in plot


def test_unknown_and_disabled_checks_are_404(staff_client, make_check):
    make_check("web", "off", enabled=False)
    assert staff_client.get("/dashboard/checks/web/nope/").status_code == 404
    assert staff_client.get("/dashboard/checks/web/off/").status_code == 404


def test_the_page_polls_its_check_at_its_ttl(staff_client, make_check):
    make_check("web", "home", ttl=20)
    html = page(staff_client)
    assert 'data-status-url="/dashboard/status.json?check=web%2Fhome"' in html
    assert 'data-refresh="20"' in html
    assert 'data-check-key="web/home"' in html


def test_names_that_need_quoting(staff_client, make_check):
    make_check("web app", "home page", alert_state="passing")
    overview = page(staff_client, "/dashboard/")
    assert 'href="/dashboard/checks/web%20app/home%20page/"' in overview
    assert "web app / home page" in page(staff_client, "/dashboard/checks/web%20app/home%20page/")


def test_a_new_checks_history_fills_the_chart_instead_of_a_tick_at_its_right_edge(
    staff_client, make_check
):
    check = make_check("web", "home")
    add_run(check, timedelta(minutes=10), True)
    add_run(check, timedelta(minutes=5), False)
    plot = page(staff_client).split('<div class="plot">', 1)[1].split("</div>", 1)[0]

    bands = re.findall(r'<rect class="band-(\w+)" x="([\d.]+)" y="0" width="([\d.]+)"', plot)

    # 7 days asked for, 10 minutes known: the first run is at the left edge, and the
    # two stretches share the width, half each.
    (first, x0, w0), (second, x1, w1) = bands
    assert (first, second) == ("passing", "failing")
    assert float(x0) == history_chart.PAD_L
    inner = history_chart.WIDTH - history_chart.PAD_L - history_chart.PAD_R
    assert abs(float(w0) - inner / 2) < 2 and abs(float(x1) + float(w1) - (history_chart.PAD_L + inner)) < 2
