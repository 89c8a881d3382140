"""The API's documentation (/api/docs/) in a real browser: Swagger UI, served from
this service alone, renders the operations of the schema."""

from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip or fail the tests, with the reason
    expect = None

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_shows_the_operations_with_nothing_from_elsewhere(page, live_server):
    hosts = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))

    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Telescope-compatible audits and errors API"
    )
    expect(page.locator('.opblock-summary-path[data-path="/checks/{project}/{name}"]').first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert hosts == {urlsplit(live_server.url).netloc}, hosts  # no CDN
