"""
Django's debug pages under DEBUG: only for a request from this machine, and
never with a secret; anyone else gets the plain error pages.
"""

import pytest
from django.test import Client

from foundation.tests.debug_urls import RESOLVED

pytestmark = [pytest.mark.urls("foundation.tests.debug_urls"), pytest.mark.django_db]

DSN_KEY = "dsnpublickey0042"
HOOK = "https://hooks.example.com/services/T0/B0/webhooksecret"
REFRESH = "refresh-secret-on-page-31"
ELSEWHERE = "203.0.113.9"


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True
    settings.SENTRY_DSN = f"https://{DSN_KEY}@o1.ingest.sentry.io/5"
    settings.WEBHOOK_URLS = [HOOK]
    settings.REFRESH_SECRET = REFRESH


def get(path: str, address: str = "127.0.0.1", **headers):
    client = Client(raise_request_exception=False, REMOTE_ADDR=address)
    return client.get(path, **headers)


def assert_no_secret(response):
    page = response.content.decode()
    for secret in (RESOLVED, DSN_KEY, HOOK, "webhooksecret", REFRESH):
        assert secret not in page


def test_another_machine_gets_the_plain_500_page_under_debug():
    response = get(f"/fails/?refresh={REFRESH}", ELSEWHERE)
    assert response.status_code == 500
    assert b"Traceback" not in response.content and b"SENTRY_DSN" not in response.content
    assert_no_secret(response)


def test_another_machine_asking_for_text_gets_no_traceback():
    response = get("/fails/", ELSEWHERE, HTTP_ACCEPT="text/plain")
    assert response.status_code == 500
    assert response.content.decode() == "Server Error (500)\n"


def test_a_request_relayed_by_a_proxy_on_this_machine_gets_the_plain_page():
    response = get("/fails/", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert response.status_code == 500
    assert b"Traceback" not in response.content


def test_this_machine_gets_the_debug_page_without_any_secret():
    response = get(f"/fails/?refresh={REFRESH}")
    assert response.status_code == 500
    assert b"Traceback" in response.content and b"SENTRY_DSN" in response.content
    assert b"${PAGE_TOKEN}" in response.content  # the local shows the placeholder
    assert_no_secret(response)


def test_this_machine_gets_the_debug_page_as_text_without_any_secret():
    response = get("/fails/", HTTP_ACCEPT="text/plain")
    assert b"Traceback" in response.content
    assert_no_secret(response)


def test_another_machine_gets_the_plain_404_page_under_debug():
    response = get("/nowhere/", ELSEWHERE)
    assert response.status_code == 404
    assert b"URLconf" not in response.content


def test_this_machine_gets_the_debug_404_page():
    response = get("/nowhere/")
    assert response.status_code == 404
    assert b"URLconf" in response.content
