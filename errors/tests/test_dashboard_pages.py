"""
The errors' dashboard pages, read by a staff user: services, a service's groups
(search, filters, sorting, pages), a group with its occurrences, targets.
"""

import re
import shlex
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bugtracker.models import KnownBug
from errors.dashboard.views import curl_command, group_url
from errors.models import (
    ErrorGroup,
    GroupStatus,
    HourlyCount,
    Service,
    Target,
    TargetStatus,
)
from errors.tests.conftest import T0

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def rows(html) -> list[str]:
    """The keys of the group rows, in order."""
    return [unescape(key) for key in re.findall(r'<tr data-group="([^"]*)"', html)]


def list_url(service="shop") -> str:
    return reverse("errors-service", args=[service])


# --- services -----------------------------------------------------------------------


def test_services_page_counts_active_groups_in_one_query(staff_client, make_group):
    make_group("A@1", total_count=3)
    make_group("B@2", total_count=4, regression=True)
    make_group("C@3", status=GroupStatus.RESOLVED)
    make_group("D@4", status=GroupStatus.IGNORED)
    make_group("E@5", status=GroupStatus.IGNORED, ignored_until=NOW - timedelta(hours=1))
    make_group("F@6", service="billing", status=GroupStatus.RESOLVED)
    Service.objects.create(name="quiet")
    shop = Service.objects.get(name="shop")
    Target.objects.create(service=shop, address="a:1", status=TargetStatus.UP)
    Target.objects.create(service=shop, address="b:1", status=TargetStatus.DOWN)

    with CaptureQueriesContext(connection) as queries:
        html = page(staff_client, reverse("errors-dashboard"))
    services = [q for q in queries.captured_queries if "errors_service" in q["sql"]]
    assert len(services) == 1

    def counted(name):
        row = re.search(rf'<tr data-service="{name}".*?</tr>', html, re.S).group(0)
        return int(re.search(r"data-active-count>(\d+)<", row).group(1)), row

    active, row = counted("shop")
    assert active == 3  # A, B and E whose ignore period is over
    assert "1 / 2" in row and "1 down" in row  # targets up / all
    assert counted("billing")[0] == 0
    assert counted("quiet")[0] == 0
    assert 'href="/dashboard/errors/shop/"' in html
    assert "3 active error groups" in html


def test_services_page_without_services(staff_client):
    assert "No service yet" in page(staff_client, reverse("errors-dashboard"))


# --- a service's groups -------------------------------------------------------------


@pytest.fixture
def groups(make_group):
    """Four groups of shop, and one of another service."""
    return {
        "old": make_group("KeyError@cart.py", total_count=50, message="'sku'",
                          first_seen=T0 - timedelta(days=30), last_seen=T0 - timedelta(days=2)),
        "new": make_group("ValueError@pay.py", total_count=5, message="bad amount",
                          first_seen=T0 - timedelta(hours=1), last_seen=T0),
        "warn": make_group("Timeout@db.py", total_count=20, severity="warning",
                           message="slow query", first_seen=T0 - timedelta(days=5),
                           last_seen=T0 - timedelta(hours=5)),
        "done": make_group("OSError@disk.py", total_count=9, status=GroupStatus.RESOLVED,
                           message="disk full", last_seen=T0 - timedelta(days=1)),
        "muted": make_group("Noise@log.py", total_count=1, status=GroupStatus.IGNORED),
        "other": make_group("KeyError@elsewhere.py", service="billing"),
    }


def test_list_shows_active_groups_by_last_seen(staff_client, groups):
    html = page(staff_client, list_url())
    assert rows(html) == ["ValueError@pay.py", "Timeout@db.py", "KeyError@cart.py"]
    assert 'href="/dashboard/errors/shop/errors/ValueError%40pay.py/"' in html
    assert 'id="group-search"' in html


@pytest.mark.parametrize(("params", "expected"), [
    ({"sort": "count"}, ["KeyError@cart.py", "Timeout@db.py", "ValueError@pay.py"]),
    ({"sort": "count", "order": "asc"}, ["ValueError@pay.py", "Timeout@db.py", "KeyError@cart.py"]),
    ({"sort": "first_seen"}, ["ValueError@pay.py", "Timeout@db.py", "KeyError@cart.py"]),
    ({"sort": "first_seen", "order": "asc"}, ["KeyError@cart.py", "Timeout@db.py", "ValueError@pay.py"]),
    ({"sort": "last_seen", "order": "asc"}, ["KeyError@cart.py", "Timeout@db.py", "ValueError@pay.py"]),
    ({"sort": "nonsense"}, ["ValueError@pay.py", "Timeout@db.py", "KeyError@cart.py"]),
])
def test_list_sorts(staff_client, groups, params, expected):
    assert rows(page(staff_client, list_url(), **params)) == expected


@pytest.mark.parametrize(("params", "expected"), [
    ({"q": "keyerror"}, ["KeyError@cart.py"]),  # key and class
    ({"q": "AMOUNT"}, ["ValueError@pay.py"]),  # message
    ({"q": "disk"}, []),  # resolved: not in the active list
    ({"q": "disk", "status": "resolved"}, ["OSError@disk.py"]),
    ({"severity": "warning"}, ["Timeout@db.py"]),
    ({"severity": "fatal"}, []),
    ({"status": "resolved"}, ["OSError@disk.py"]),
    ({"status": "ignored"}, ["Noise@log.py"]),
    ({"status": "all"}, ["Noise@log.py", "ValueError@pay.py", "Timeout@db.py",
                         "OSError@disk.py", "KeyError@cart.py"]),
    ({"status": "bogus"}, ["ValueError@pay.py", "Timeout@db.py", "KeyError@cart.py"]),
    ({"q": "py", "severity": "error", "sort": "count"}, ["KeyError@cart.py", "ValueError@pay.py"]),
])
def test_list_filters_and_searches(staff_client, groups, params, expected):
    assert rows(page(staff_client, list_url(), **params)) == expected


def test_list_shows_status_counts_and_severities(staff_client, groups):
    html = page(staff_client, list_url(), status="resolved")
    assert re.search(r'data-status="active"[^>]*>Active <span class="badge">3<', html)
    assert re.search(r'data-status="resolved" aria-current="page">Resolved <span class="badge">1<', html)
    assert '<option value="warning"' in html
    # The tabs keep the other parameters.
    html = page(staff_client, list_url(), q="py", sort="count")
    assert 'href="?q=py&amp;status=ignored&amp;sort=count&amp;order=desc"' in html


def test_list_pages(staff_client, make_group):
    for i in range(120):
        make_group(f"E{i:03}@x.py", total_count=i, last_seen=T0 - timedelta(minutes=i))
    html = page(staff_client, list_url(), q="x.py")
    assert len(rows(html)) == 50 and rows(html)[0] == "E000@x.py"
    assert "Page 1 of 3" in html
    assert 'href="?q=x.py&amp;status=active&amp;sort=last_seen&amp;order=desc&amp;page=2" rel="next"' in html
    html = page(staff_client, list_url(), q="x.py", page=3)
    assert rows(html) == [f"E{i:03}@x.py" for i in range(100, 120)]
    assert "101–120 of 120" in html and 'rel="prev"' in html and 'rel="next"' not in html
    assert len(rows(page(staff_client, list_url(), page="99"))) == 20  # the last page
    assert len(rows(page(staff_client, list_url(), page="x"))) == 50  # the first


def test_list_query_count_does_not_grow_with_the_groups(staff_client, make_group):
    def queries_for(n):
        ErrorGroup.objects.all().delete()
        for i in range(n):
            group = make_group(f"E{i}@x.py", total_count=i)
            HourlyCount.objects.create(group=group, hour=NOW.replace(minute=0, second=0, microsecond=0), count=2)
        with CaptureQueriesContext(connection) as queries:
            assert len(rows(page(staff_client, list_url()))) == n
        return len(queries)

    assert queries_for(5) == queries_for(50)


def test_list_shows_a_sparkline_of_the_last_day(staff_client, make_group):
    group = make_group("E@x.py")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)  # the page's current hour
    HourlyCount.objects.create(group=group, hour=hour, count=4)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(hours=3), count=2)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(days=3), count=9)  # too old
    html = page(staff_client, list_url())
    assert '<path d="M60 20v-10h2v10zM69 20v-19h2v19z"/>' in html


def test_list_escapes_messages(staff_client, make_group):
    make_group("XSS@<b>.py", message="<script>alert(1)</script>")
    html = page(staff_client, list_url())
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-group="XSS@&lt;b&gt;.py"' in html


def test_unknown_service_is_404(staff_client):
    assert staff_client.get(list_url("nope")).status_code == 404
    assert staff_client.get("/dashboard/errors/nope/targets/").status_code == 404


# --- a group ------------------------------------------------------------------------

SLASHY = "Error in /api/v1/items @ handler 42"


@pytest.fixture
def slashy(make_group, make_occurrence):
    group = make_group(SLASHY, total_count=12, severity="error", regression=True,
                       first_seen=T0 - timedelta(days=3), message="boom")
    for i in range(3):
        make_occurrence(group, f"uuid-{i}", T0 - timedelta(minutes=i), message=f"boom number {i}",
                        stacktrace=[f"frame {i} a", f"frame {i} b"])
    return group


def test_group_url_escapes_the_key():
    assert group_url("shop", "a/../b c") == "/dashboard/errors/shop/errors/a%2F..%2Fb%20c/"


@pytest.mark.parametrize("url", [
    "/dashboard/errors/shop/errors/" + quote(SLASHY, safe="") + "/",  # as the pages link
    "/dashboard/errors/shop/errors/" + quote(SLASHY) + "/",  # "/" left as is
    reverse("errors-group", args=["shop", SLASHY]),
])
def test_group_page_with_slashes_and_spaces_in_the_key(staff_client, slashy, url):
    html = page(staff_client, url)
    assert f"<code>{SLASHY}</code>" in html
    assert "regression" in html
    assert '<dd class="num-big">12</dd>' in html
    assert 'data-occurrence-index="1"' in html and "boom number 0" in html


def test_unknown_group_is_404(staff_client, slashy):
    assert staff_client.get("/dashboard/errors/shop/errors/nope/").status_code == 404
    assert staff_client.get("/dashboard/errors/billing/errors/" + quote(SLASHY, safe="") + "/").status_code == 404


def test_occurrences_page_one_by_one(staff_client, slashy):
    url = group_url("shop", SLASHY)
    html = page(staff_client, url)
    assert "1 / 3" in html and "frame 0 a\nframe 0 b" in html
    assert f'href="{url}?occurrence=2" rel="next"' in html and 'rel="prev"' not in html
    html = page(staff_client, url, occurrence=2)
    assert 'data-occurrence-index="2"' in html and "boom number 1" in html
    assert f'href="{url}?occurrence=1" rel="prev"' in html
    assert f'href="{url}?occurrence=3" rel="next"' in html
    html = page(staff_client, url, occurrence=3)
    assert "boom number 2" in html and 'rel="next"' not in html
    assert 'data-occurrence-index="3"' in page(staff_client, url, occurrence=99)
    assert 'data-occurrence-index="1"' in page(staff_client, url, occurrence="x")


def test_group_without_occurrences(staff_client, make_group):
    make_group("Lonely@x")
    html = page(staff_client, group_url("shop", "Lonely@x"))
    assert "No occurrence stored" in html and "data-occurrence-index" not in html


def test_cause_chain_and_http_context(staff_client, make_group, make_occurrence):
    group = make_group("Wrapped@x")
    make_occurrence(
        group, "u1", error_class="RuntimeError", message="outer",
        stacktrace=["outer frame"],
        cause=[
            {"class": "ConnectionError", "message": "middle", "stacktrace": ["middle frame"]},
            {"class": "TimeoutError", "message": "root cause", "stacktrace": []},
        ],
        http_context={
            "request_method": "POST",
            "request_url": "https://shop.example/cart?id=1&x=2",
            "request_headers": {"X-Note": "it's <here>", "Content-Length": "9"},
            "request_body": '{"a": 1}',
        },
    )
    html = page(staff_client, group_url("shop", "Wrapped@x"))
    chain = re.findall(r'<code class="cause-class">([^<]*)</code>: <span class="cause-message">([^<]*)<', html)
    assert chain == [("ConnectionError", "middle"), ("TimeoutError", "root cause")]
    assert "middle frame" in html
    assert '<span class="http-method">POST</span>' in html
    assert "https://shop.example/cart?id=1&amp;x=2" in html
    assert "<th scope=\"row\">X-Note</th><td><code class=\"wrap\">it&#x27;s &lt;here&gt;</code>" in html
    assert '<pre class="http-body">{&quot;a&quot;: 1}</pre>' in html
    curl = unescape(re.search(r'<pre id="curl-command" class="curl-command">(.*?)</pre>', html, re.S).group(1))
    assert shlex.split(curl.replace("\\\n", "")) == [
        "curl", "-X", "POST", "https://shop.example/cart?id=1&x=2",
        "-H", "X-Note: it's <here>", "--data-raw", '{"a": 1}',
    ]
    assert 'data-copy="#curl-command"' in html


def test_curl_command_quotes_everything():
    command = curl_command({
        "request_method": "put; rm -rf ~",
        "request_url": "/path?q=$(id)",
        "request_headers": {"Host": "api.local", "Authorization": "it's \"quoted\" `x`"},
        "request_body": "line 1\nline '2'",
    })
    words = shlex.split(command.replace("\\\n", ""))
    assert words == [
        "curl", "-X", "PUT; RM -RF ~", "http://api.local/path?q=$(id)",
        "-H", "Host: api.local", "-H", "Authorization: it's \"quoted\" `x`",
        "--data-raw", "line 1\nline '2'",
    ]
    assert "'Authorization: it'\"'\"'s \"quoted\" `x`'" in command


def test_curl_command_of_a_get_without_headers():
    assert curl_command({"request_method": "GET", "request_url": "http://a/b",
                         "request_headers": None, "request_body": None}) == "curl http://a/b"
    assert curl_command(None) == ""


def test_group_page_escapes_messages_and_stack_traces(staff_client, make_group, make_occurrence):
    group = make_group("Evil@x", message="<script>alert('group')</script>")
    make_occurrence(group, "u1", error_class="<img src=x onerror=alert(1)>",
                    message="<script>alert('message')</script>",
                    stacktrace=["<script>alert('trace')</script>"],
                    cause=[{"class": "<b>c</b>", "message": "<script>x</script>", "stacktrace": []}],
                    http_context={"request_method": "GET", "request_url": "http://a/<script>",
                                  "request_headers": {"<h>": "<script>v</script>"},
                                  "request_body": "</pre><script>b</script>"})
    html = page(staff_client, group_url("shop", "Evil@x"))
    assert "<script>" not in html.replace('<script src="/static/', "")
    assert "<img src=x" not in html and "<b>c</b>" not in html
    assert "&lt;script&gt;alert(&#x27;message&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;trace&#x27;)&lt;/script&gt;" in html


def test_group_page_charts_the_last_seven_days(staff_client, make_group):
    group = make_group("Charted@x")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)  # the page's current hour
    HourlyCount.objects.create(group=group, hour=hour, count=10)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(hours=30), count=5)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(days=8), count=99)  # too old
    html = page(staff_client, group_url("shop", "Charted@x"))
    bars = re.findall(r'<rect class="bar" x="(\d+)" y="([\d.]+)" width="5" height="([\d.]+)"><title>[^<]*: (\d+)</title>', html)
    assert bars == [(str((167 - 30) * 6), "50", "50", "5"), (str(167 * 6), "0", "100", "10")]
    assert "15 in all, at most 10 an hour" in html


def test_group_page_lists_known_bugs(staff_client, make_group):
    group = make_group("Known@x")
    KnownBug.objects.create(bug_id="BUG-7", summary="Cart breaks", url="https://bugs.example/7",
                            whiteboard="[errors:shop/Known@x]")
    linked = KnownBug.objects.create(bug_id="BUG-8", summary="Linked by hand")
    linked.error_groups.add(group)
    KnownBug.objects.create(bug_id="BUG-9", summary="Other", whiteboard="errors:shop/Known@xy")
    html = page(staff_client, group_url("shop", "Known@x"))
    assert '<a href="https://bugs.example/7" rel="noopener noreferrer">BUG-7</a>' in html
    assert "Linked by hand" in html and "BUG-9" not in html


def test_group_page_shows_staff_buttons(staff_client, slashy):
    html = page(staff_client, group_url("shop", SLASHY))
    assert 'name="action" value="resolve"' in html and 'name="action" value="ignore"' in html
    assert 'value="unresolve"' not in html  # it is active
    assert "csrfmiddlewaretoken" in html
    slashy.resolve()
    html = page(staff_client, group_url("shop", SLASHY))
    assert 'value="unresolve"' in html and 'value="resolve"' not in html


# --- targets ------------------------------------------------------------------------


def test_targets_page(staff_client, db):
    service = Service.objects.create(name="shop", last_discovery_errors=["dns: no such host"])
    Target.objects.create(service=service, address="10.0.0.1:8080", status=TargetStatus.UP,
                          # Not NOW: "2 minutes ago" must hold however late the test runs.
                          last_scrape_at=timezone.now() - timedelta(minutes=2), duration=0.0421,
                          labels={"zone": "eu-1", "app": "shop"})
    Target.objects.create(service=service, address="10.0.0.2:8080", status=TargetStatus.DOWN,
                          last_error="Connection refused <oops>")
    Target.objects.create(service=Service.objects.create(name="other"), address="x:1")
    html = page(staff_client, reverse("errors-targets", args=["shop"]))
    assert re.findall(r'<tr data-target="([^"]+)" class="target-(\w+)"', html) == [
        ("10.0.0.1:8080", "up"), ("10.0.0.2:8080", "down")]
    assert "http://10.0.0.1:8080/errors" in html
    assert "0.042 s" in html and "2\xa0minutes ago" in html
    assert 'class="label-name">app</span>=<span class="label-value">shop</span>' in html
    assert "Connection refused &lt;oops&gt;" in html
    assert "dns: no such host" in html
    assert "1 up" in html and "1 down" in html


def test_an_errors_page_says_just_now_as_the_checks_pages_do(staff_client, db):
    Service.objects.create(name="shop", last_scrape_at=timezone.now())
    html = page(staff_client, reverse("errors-dashboard"))
    assert re.search(r"<time [^>]+>just now</time>", html), html
    assert "0\xa0minutes" not in html and "0 minutes" not in html
