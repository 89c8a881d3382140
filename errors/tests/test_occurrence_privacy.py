"""
Credential request headers are masked for everyone wherever occurrences are
shown (Periskop's API, /api/errors/, the dashboard); request bodies are shown to
staff and API token holders only, unless ERRORS_PUBLIC_BODIES=true. The
occurrence comes from a real client on 127.0.0.1, scraped.
"""

import pytest
from django.contrib.auth.models import User

from errors import scraper
from errors.models import BODY_WITHHELD, MASKED, ErrorGroup, Service
from errors.tests.periskop_instance import PeriskopInstance

HEADERS = {
    "Authorization": "Bearer s3cr3t-bearer",
    "cookie": "session=s3cr3t-cookie",
    "Set-Cookie": "id=s3cr3t-set",
    "X-API-Key": "s3cr3t-key",
    "X-Auth-Token": "s3cr3t-token",
    "X-Client-Secret": "s3cr3t-secret",
    "Accept": "application/json",
}
BODY = "password=s3cr3t-body"
CREDENTIAL_NAMES = {"Authorization", "cookie", "Set-Cookie", "X-API-Key", "X-Auth-Token", "X-Client-Secret"}


@pytest.fixture
def scraped(db):
    with PeriskopInstance() as instance:
        instance.report(KeyError("k"), http_context={
            "request_method": "POST", "request_url": "http://shop/login",
            "request_headers": HEADERS, "request_body": BODY,
        })
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        scraper.scrape(service)
    return ErrorGroup.objects.get()


def assert_masked(headers: dict) -> None:
    assert {name for name, value in headers.items() if value == MASKED} == CREDENTIAL_NAMES
    assert headers["Accept"] == "application/json"


def periskop_context(client, **headers) -> dict:
    (group,) = client.get("/services/api/errors/", **headers).json()
    return group["latest_errors"][0]["http_context"]


def api_context(client, group, **headers) -> dict:
    response = client.get(f"/api/errors/groups/{group.pk}/occurrences/", **headers)
    return response.json()["results"][0]["http_context"]


def test_anonymous_readers_see_credentials_masked_and_no_body(client, scraped):
    for context in (periskop_context(client), api_context(client, scraped)):
        assert_masked(context["request_headers"])
        assert context["request_body"] == BODY_WITHHELD
    assert b"s3cr3t" not in client.get("/services/api/errors/").content


def test_token_holders_see_the_body_but_never_the_credentials(client, scraped, api_token):
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token}"}
    for context in (periskop_context(client, **auth), api_context(client, scraped, **auth)):
        assert_masked(context["request_headers"])
        assert context["request_body"] == BODY


def test_staff_see_the_body_but_never_the_credentials(staff_client, scraped):
    for context in (periskop_context(staff_client), api_context(staff_client, scraped)):
        assert_masked(context["request_headers"])
        assert context["request_body"] == BODY
    page = staff_client.get(f"/dashboard/errors/api/errors/{scraped.aggregation_key}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "s3cr3t-body" in html
    assert "s3cr3t-bearer" not in html and "s3cr3t-key" not in html and "s3cr3t-cookie" not in html


def test_a_logged_in_user_who_is_not_staff_gets_no_body(client, scraped):
    client.force_login(User.objects.create_user("viewer"))
    assert periskop_context(client)["request_body"] == BODY_WITHHELD
    assert api_context(client, scraped)["request_body"] == BODY_WITHHELD


def test_public_dashboard_shows_no_body_nor_credentials(client, scraped, settings):
    settings.PUBLIC_DASHBOARD = True
    html = client.get(f"/dashboard/errors/api/errors/{scraped.aggregation_key}/").content.decode()
    assert "s3cr3t" not in html
    assert BODY_WITHHELD in html


def test_public_bodies_setting_shows_bodies_to_everyone(client, scraped, settings):
    settings.ERRORS_PUBLIC_BODIES = True
    for context in (periskop_context(client), api_context(client, scraped)):
        assert_masked(context["request_headers"])
        assert context["request_body"] == BODY
