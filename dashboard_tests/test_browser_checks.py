"""
The checks' pages in a real browser: logging in, the failing checks at the top,
filtering by tags, a check's documentation and history plot, the system diagram
coloured live by the status feed, and dark mode.

Checks are heartbeats of the `upstream` test server, run for real (so their state,
history and uptime are what production would store); see conftest.py.
"""

import re
from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip or fail the tests, with the reason
    expect = None

pytestmark = pytest.mark.django_db(transaction=True)

PASSING_FILL = "rgb(31, 138, 76)"  # --pass of the light palette
FAILING_FILL = "rgb(198, 40, 40)"  # --fail of the light palette
DARK_BACKGROUND = "rgb(20, 23, 29)"  # --bg of the dark palette

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">
  <rect id="web--home" x="10" y="10" width="80" height="80" fill="#ccc"/>
  <rect id="api--health" x="110" y="10" width="80" height="80" fill="#ccc"/>
  <rect id="nothing--here" x="210" y="10" width="80" height="80" fill="#ccc"/>
</svg>
"""


def keys(locator) -> list[str]:
    return locator.evaluate_all("els => els.map(e => e.dataset.check || e.dataset.failingCheck)")


def test_a_staff_user_logs_in_through_the_login_form(page, staff_user, log_in, live_server):
    statics, hosts = {}, set()
    page.on("response", lambda r: statics.setdefault(urlsplit(r.url).path, r.status))
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))

    page.goto("/dashboard/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/dashboard/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    log_in(page)

    expect(page).to_have_url(live_server.url + "/dashboard/")
    expect(page.locator(".topbar .who")).to_have_text(staff_user.username)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("#headline")).to_have_attribute("data-state", "unknown")
    expect(page.locator("#headline .headline-text")).to_have_text("There is no check yet")
    # The vendored assets were served (no CDN) and applied.
    assert statics.get("/static/dashboard/dashboard.css") == 200, statics
    assert statics.get("/static/dashboard/theme.js") == 200, statics
    assert statics.get("/static/dashboard/checks.js") == 200, statics
    expect(page.locator(".topbar")).to_have_css("display", "flex")
    assert hosts == {urlsplit(live_server.url).netloc}, hosts  # nothing from elsewhere


def test_a_failing_check_is_listed_at_the_top(logged_in, make_heartbeat):
    make_heartbeat("web", "home")
    make_heartbeat("api", "health", status=500)
    make_heartbeat("db", "ping")

    page = logged_in("/dashboard/")

    headline = page.locator("#headline")
    expect(headline).to_have_attribute("data-state", "failing")
    expect(headline.locator(".headline-text")).to_have_text("The system has 1 failing check")
    failing = headline.locator(".failing-list [data-failing-check]")
    expect(failing).to_have_count(1)
    assert keys(failing) == ["api/health"]
    expect(failing.get_by_role("link", name="api/health")).to_have_attribute(
        "href", "/dashboard/checks/api/health/"
    )
    expect(headline.locator('[data-count="failing"]')).to_have_text("1")
    expect(headline.locator('[data-count="passing"]')).to_have_text("2")
    # Every check keeps its row, coloured by its state.
    expect(page.locator('[data-check="api/health"][data-state="failing"]')).to_be_visible()
    expect(page.locator('[data-check="web/home"][data-state="passing"]')).to_be_visible()
    expect(page.locator('[data-check="db/ping"][data-state="passing"]')).to_be_visible()
    # At the top: the headline comes before every project.
    top_of_projects = min(box["y"] for box in (
        section.bounding_box() for section in page.locator("section.project").all()
    ))
    assert headline.bounding_box()["y"] < top_of_projects


def test_filtering_by_two_tags_lists_only_the_checks_with_both(logged_in, make_heartbeat):
    make_heartbeat("web", "home", tags=["prod", "web"], runs=0)
    make_heartbeat("web", "admin", tags=["web"], runs=0)
    make_heartbeat("api", "health", tags=["prod"], runs=0)
    make_heartbeat("api", "front", tags=["prod", "web", "db"], runs=0)
    make_heartbeat("db", "ping", tags=["db"], runs=0)

    page = logged_in("/dashboard/")
    expect(page.locator("[data-check]")).to_have_count(5)

    page.locator('[data-tag="prod"]').click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?tags=prod$"))
    expect(page.locator("[data-check]")).to_have_count(3)

    page.locator('[data-tag="web"]').click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?tags=prod,web$"))
    rows = page.locator("[data-check]")
    expect(rows).to_have_count(2)
    assert sorted(keys(rows)) == ["api/front", "web/home"]
    expect(page.locator('[data-tag="prod"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-tag="web"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-tag="db"]')).not_to_have_attribute("aria-pressed", "true")
    expect(page.locator("form#search .shown")).to_have_text("2 of 5 checks shown")
    # The search form keeps both tags.
    expect(page.locator('form#search input[name="tags"]')).to_have_value("prod,web")


def test_a_check_page_shows_its_documentation_and_history_plot(logged_in, make_heartbeat, run_again):
    check = make_heartbeat("web", "home", description="The **home page** answers.")
    run_again(check, 500)
    run_again(check, 200)  # passing, failing, passing: three stretches

    page = logged_in("/dashboard/")
    page.locator('[data-check="web/home"] a').click()

    expect(page).to_have_url(re.compile(r"/dashboard/checks/web/home/$"))
    head = page.locator('#check-live [data-check="web/home"]')
    expect(head).to_have_attribute("data-state", "passing")
    expect(page.locator("form#refresh").get_by_role("button", name="Refresh now")).to_be_visible()
    expect(page.locator(".description strong")).to_have_text("home page")
    # The module's docstring, rendered from Markdown.
    documentation = page.locator("section.documentation")
    expect(documentation).to_contain_text("URL should answer GET with the expected status")
    expect(documentation.locator("code", has_text="expected_status").first).to_be_visible()
    expect(documentation.locator("pre code")).to_contain_text("[checks.myproject.heartbeat]")
    expect(documentation).not_to_contain_text("`GET`")
    # The history as a plot: a passing, a failing and a passing stretch.
    plot = page.locator("section.history svg.history-plot")
    expect(plot).to_be_visible()
    expect(plot.locator("rect.band-passing")).to_have_count(2)
    expect(plot.locator("rect.band-failing")).to_have_count(1)
    expect(page.locator("section.history .uptime")).to_contain_text("66.67 %")


def test_a_diagram_element_turns_red_when_its_check_starts_failing(
    logged_in, make_heartbeat, run_again, settings, tmp_path
):
    diagram = tmp_path / "diagram.svg"
    diagram.write_text(DIAGRAM)
    settings.DIAGRAM_FILE = str(diagram)
    make_heartbeat("web", "home", ttl=5)
    health = make_heartbeat("api", "health", ttl=5)

    page = logged_in("/dashboard/")
    element = page.locator('#diagram [data-diagram-check="api/health"]')
    expect(element).to_have_attribute("data-state", "passing")
    expect(element).to_have_css("fill", PASSING_FILL)
    # An element named after no check is left as drawn.
    assert page.locator("#diagram #nothing--here").evaluate("e => e.hasAttribute('data-state')") is False
    page.evaluate("window.notReloaded = true")

    run_again(health, 500)  # the upstream breaks; the stored state is now failing

    # The page polls status.json every 5 s (the smallest TTL), and colours in place.
    expect(element).to_have_attribute("data-state", "failing", timeout=30_000)
    expect(element).to_have_css("fill", FAILING_FILL)
    home = page.locator('#diagram [data-diagram-check="web/home"]')
    expect(home).to_have_attribute("data-state", "passing")
    expect(page.locator("#headline")).to_have_attribute("data-state", "failing")
    expect(page.locator('#headline .failing-list [data-failing-check="api/health"]')).to_be_visible()
    expect(page.locator('[data-check="api/health"]')).to_have_attribute("data-state", "failing")
    assert page.evaluate("window.notReloaded") is True


def test_the_theme_toggle_switches_to_dark_mode(logged_in):
    page = logged_in("/dashboard/")
    html = page.locator("html")
    toggle = page.locator("[data-theme-toggle]")
    expect(html).to_have_attribute("data-theme", "auto")
    expect(page.locator("body")).not_to_have_css("background-color", DARK_BACKGROUND)

    toggle.click()
    expect(html).to_have_attribute("data-theme", "light")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_text("Theme: dark")
    expect(page.locator("body")).to_have_css("background-color", DARK_BACKGROUND)

    # The choice is remembered, and applied before the page is drawn.
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.locator("body")).to_have_css("background-color", DARK_BACKGROUND)


DARK_CARD = "rgb(29, 33, 41)"  # --card of the dark palette


@pytest.mark.parametrize("how", ["toggle", "system"])
def test_native_controls_follow_dark_mode(logged_in, page, how):
    page = logged_in("/dashboard/")
    if how == "toggle":
        page.evaluate("localStorage.setItem('dashboard-theme', 'dark')")
        page.reload()
    else:  # the system's preference, with the theme left on "auto"
        page.emulate_media(color_scheme="dark")

    for control in (page.locator("[data-theme-toggle]"), page.get_by_role("button", name="Log out"),
                    page.locator("select[name=status]"), page.locator("input[type=search]")):
        expect(control).to_have_css("color-scheme", "dark")
        assert control.evaluate("e => getComputedStyle(e).backgroundColor") in (DARK_CARD, DARK_BACKGROUND)


def test_a_blocked_check_shows_its_chain_and_turns_blocked_live(logged_in, make_heartbeat, run_again):
    dns = make_heartbeat("infra", "dns", ttl=5)
    api = make_heartbeat("web", "api", ttl=5)
    api.depends_on.add(dns)
    run_again(dns, 503)

    page = logged_in("/dashboard/")
    row = page.locator('[data-check="web/api"]')
    expect(row).to_have_attribute("data-state", "passing")
    expect(row.locator(".chain")).to_have_text("")

    run_again(api, 503)  # fails while infra/dns fails: blocked, no alert

    expect(row).to_have_attribute("data-state", "blocked", timeout=30_000)
    expect(row.locator(".st")).to_have_text("blocked")
    expect(row.locator(".chain")).to_have_text("by infra/dns")
    expect(page.locator("#headline .headline-text")).to_have_text("The system has 1 failing check")

    row.locator("a").first.click()
    expect(page.locator("#check-live .chain")).to_have_text("by infra/dns")
    expect(page.locator("section.dependencies")).to_contain_text("Depends on")
    page.locator("section.dependencies").get_by_role("link", name="infra/dns").first.click()
    expect(page.locator("section.dependencies .dependents")).to_contain_text("web/api")
