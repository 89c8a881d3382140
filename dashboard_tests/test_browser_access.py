"""Who sees what: PUBLIC_DASHBOARD opens a read-only dashboard to anonymous visitors."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip or fail the tests, with the reason
    expect = None

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_public_dashboard_shows_anonymous_visitors_the_checks_without_the_refresh_button(
    page, settings, make_heartbeat, live_server
):
    settings.PUBLIC_DASHBOARD = True
    make_heartbeat("web", "home")
    make_heartbeat("api", "health", status=500)

    page.goto("/dashboard/")

    expect(page).to_have_url(live_server.url + "/dashboard/")  # no detour by the login
    expect(page.locator("#headline")).to_have_attribute("data-state", "failing")
    expect(page.locator('[data-check="web/home"][data-state="passing"]')).to_be_visible()
    expect(page.locator(".topbar").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator(".topbar .who")).to_have_count(0)
    expect(page.locator(".topbar").get_by_role("link", name="Admin")).to_have_count(0)
    expect(page.locator("form#refresh")).to_have_count(0)

    page.locator('[data-check="api/health"] a').click()
    expect(page).to_have_url(re.compile(r"/dashboard/checks/api/health/$"))
    expect(page.locator('#check-live [data-check="api/health"]')).to_have_attribute("data-state", "failing")
    expect(page.locator("section.documentation")).to_contain_text("URL should answer")
    expect(page.locator("form#refresh")).to_have_count(0)
    expect(page.get_by_role("button", name="Refresh now")).to_have_count(0)
