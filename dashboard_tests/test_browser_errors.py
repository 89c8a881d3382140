"""
The errors' pages in a real browser: from the services to a group, paging
through its occurrences, resolving it, and Periskop's alert links.

The errors come from a real Periskop client (`PeriskopInstance`: exceptions
really raised, caught and reported), scraped by the service's own scraper.
"""

import re
from urllib.parse import quote

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip or fail the tests, with the reason
    expect = None

from errors import scraper
from errors.models import Service
from errors.tests.periskop_instance import PeriskopInstance

pytestmark = pytest.mark.django_db(transaction=True)

SERVICE = "api"
CHECKOUT_CONTEXT = {
    "request_method": "POST",
    "request_url": "http://shop.example.com/checkout",
    "request_headers": {"Content-Type": "application/json"},
    "request_body": '{"basket": 42}',
}


@pytest.fixture
def error_groups(transactional_db):
    """Two groups of the `api` service, scraped from a real instance: `declined`
    (3 occurrences with their HTTP request) and `basket` (with a cause)."""
    with PeriskopInstance() as instance:
        declined = instance.report(ValueError("card declined"), times=3, http_context=CHECKOUT_CONTEXT)
        basket = instance.report(KeyError("basket"), cause=OSError("disk full"))
        service = Service.objects.create(
            name=SERVICE, discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        report = scraper.scrape(service)
    assert report.up == 1 and not report.errors, report
    return {"declined": declined, "basket": basket}


def group_path(key: str) -> str:
    return f"/dashboard/errors/{SERVICE}/errors/{quote(key, safe='')}/"


def row(page, key):
    return page.locator(f'[data-group="{key}"]')


def occurrence_uuid(page) -> str:
    return page.locator(".occurrence-facts dt:text-is('UUID') + dd code").inner_text()


def test_an_error_group_opens_from_the_services_list(logged_in, error_groups):
    page = logged_in("/dashboard/errors/")
    service = page.locator(f'[data-service="{SERVICE}"]')
    expect(service.locator("[data-active-count]")).to_have_text("2")

    service.get_by_role("link", name=SERVICE).click()
    expect(page).to_have_url(re.compile(rf"/dashboard/errors/{SERVICE}/$"))
    expect(page.locator("[data-group]")).to_have_count(2)
    declined = row(page, error_groups["declined"])
    expect(declined.locator("td.num")).to_have_text("3")

    declined.locator("a.group-key").click()
    expect(page).to_have_url(re.compile(re.escape(group_path(error_groups["declined"])) + "$"))
    expect(page.locator("[data-group-key]")).to_have_attribute("data-group-key", error_groups["declined"])
    expect(page.locator(".group-message")).to_contain_text("ValueError: card declined")
    expect(page.locator("dd[data-status]")).to_have_attribute("data-status", "active")
    expect(page.locator(".errors-chart rect.bar")).to_have_count(1)
    # The newest occurrence, with its request and a curl command replaying it.
    expect(page.locator("[data-occurrence-index]")).to_have_attribute("data-occurrence-index", "1")
    expect(page.locator(".occurrence-class")).to_have_text("ValueError")
    expect(page.locator(".http-method")).to_have_text("POST")
    expect(page.locator(".http-url")).to_have_text("http://shop.example.com/checkout")
    expect(page.locator("#curl-command")).to_contain_text("curl -X POST http://shop.example.com/checkout")
    expect(page.locator("#curl-command")).to_contain_text("""--data-raw '{"basket": 42}'""")
    # errors.js ran: it shows the Copy button, hidden without scripts.
    expect(page.get_by_role("button", name="Copy")).to_be_visible()


def test_paging_through_the_occurrences_of_a_group(logged_in, error_groups):
    page = logged_in(group_path(error_groups["declined"]))
    occurrence = page.locator("[data-occurrence-index]")
    expect(occurrence).to_have_attribute("data-occurrence-index", "1")
    expect(occurrence).to_have_attribute("data-occurrence-total", "3")
    expect(page.locator('a[rel="prev"]')).to_have_count(0)
    seen = [occurrence_uuid(page)]

    page.locator('a[rel="next"]').click()
    expect(occurrence).to_have_attribute("data-occurrence-index", "2")
    expect(page).to_have_url(re.compile(r"\?occurrence=2$"))
    seen.append(occurrence_uuid(page))

    page.locator('a[rel="next"]').click()
    expect(occurrence).to_have_attribute("data-occurrence-index", "3")
    expect(page.locator('a[rel="next"]')).to_have_count(0)
    seen.append(occurrence_uuid(page))
    assert len(set(seen)) == 3, seen  # three different occurrences

    page.locator('a[rel="prev"]').click()
    expect(occurrence).to_have_attribute("data-occurrence-index", "2")
    assert occurrence_uuid(page) == seen[1]
    # The keyboard works too (errors.js): ← is the newer one.
    page.keyboard.press("ArrowLeft")
    expect(occurrence).to_have_attribute("data-occurrence-index", "1")
    assert occurrence_uuid(page) == seen[0]


def test_resolving_a_group_takes_it_off_the_active_list(logged_in, error_groups):
    page = logged_in(f"/dashboard/errors/{SERVICE}/")
    expect(page.locator("[data-group]")).to_have_count(2)
    row(page, error_groups["declined"]).locator("a.group-key").click()
    expect(page.locator("dd[data-status]")).to_have_attribute("data-status", "active")

    page.locator('button[name="action"][value="resolve"]').click()

    expect(page).to_have_url(re.compile(re.escape(group_path(error_groups["declined"])) + "$"))
    expect(page.locator("dd[data-status]")).to_have_attribute("data-status", "resolved")
    expect(page.locator(".messages")).to_contain_text("it left the active list")
    expect(page.locator('button[name="action"][value="resolve"]')).to_have_count(0)
    expect(page.locator('button[name="action"][value="unresolve"]')).to_be_visible()

    page.locator(".errors-crumbs").get_by_role("link", name=SERVICE).click()
    expect(page).to_have_url(re.compile(rf"/dashboard/errors/{SERVICE}/$"))
    expect(page.locator("[data-group]")).to_have_count(1)
    expect(row(page, error_groups["basket"])).to_be_visible()
    expect(row(page, error_groups["declined"])).to_have_count(0)
    expect(page.locator('.errors-status-tabs [data-status="resolved"] .badge')).to_have_text("1")
    # It is still there, among the resolved ones (the select submits by itself).
    page.locator("#group-search select[name=status]").select_option("resolved")
    expect(page).to_have_url(re.compile(r"status=resolved"))
    expect(page.locator("[data-group]")).to_have_count(1)
    expect(row(page, error_groups["declined"])).to_have_class(re.compile(r"\bstatus-resolved\b"))


def test_a_periskop_alert_link_lands_on_the_group_page_after_logging_in(
    page, log_in, error_groups, live_server
):
    # Periskop's alerts link to /#/{service}/errors/{key}; the fragment never
    # reaches the server, and must survive the redirects and the login.
    page.goto(f"{live_server.url}/#/{SERVICE}/errors/{error_groups['basket']}")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/"))
    log_in(page)

    expect(page).to_have_url(live_server.url + group_path(error_groups["basket"]))
    expect(page.locator("[data-group-key]")).to_have_attribute("data-group-key", error_groups["basket"])
    expect(page.locator(".occurrence-class")).to_have_text("KeyError")
    # The Python client sends no structured cause: the chain is in the stack trace.
    expect(page.locator(".errors-occurrence .stacktrace")).to_contain_text("OSError: disk full")
