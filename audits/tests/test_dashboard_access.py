"""Who sees the checks pages: staff; anyone read-only with PUBLIC_DASHBOARD."""

import pytest
from django.contrib.auth.models import User


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    return client


@pytest.fixture
def check(make_check):
    return make_check("web", "home", alert_state="failing")


PAGES = ["/dashboard/", "/dashboard/checks/web/home/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, check, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_login_page_leads_back_to_the_dashboard(client, check):
    User.objects.create_user("staff", password="pw", is_staff=True)
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "staff", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_users_who_are_not_staff_get_the_403_page(client, check, url):
    client.force_login(User.objects.create_user("someone", password="x"))
    response = client.get(url)
    assert response.status_code == 403
    assert "dashboard/forbidden.html" in [t.name for t in response.templates]
    assert b"not a staff account" in response.content


def test_the_status_feed_answers_json_errors(client, check):
    assert client.get("/dashboard/status.json").status_code == 401
    client.force_login(User.objects.create_user("someone", password="x"))
    response = client.get("/dashboard/status.json")
    assert response.status_code == 403 and "staff" in response.json()["detail"]


@pytest.mark.parametrize("url", PAGES + ["/dashboard/status.json"])
def test_staff_see_everything(staff_client, check, url):
    assert staff_client.get(url).status_code == 200


def test_staff_get_the_refresh_button_with_a_csrf_token(staff_client, check):
    page = staff_client.get("/dashboard/checks/web/home/").content.decode()
    assert 'id="refresh"' in page
    assert 'action="/checks/web/home/runs"' in page
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.parametrize("url", PAGES + ["/dashboard/status.json"])
def test_public_dashboard_is_open_to_anyone(client, check, settings, url):
    settings.PUBLIC_DASHBOARD = True
    assert client.get(url).status_code == 200


def test_public_dashboard_is_read_only(client, check, settings):
    settings.PUBLIC_DASHBOARD = True
    page = client.get("/dashboard/checks/web/home/").content.decode()
    assert 'id="refresh"' not in page
    assert "Refresh now" not in page
    # And the API refuses an anonymous run request anyway.
    assert client.post("/checks/web/home/runs").status_code in (401, 403)


def test_public_dashboard_is_read_only_for_non_staff_users_too(client, check, settings):
    settings.PUBLIC_DASHBOARD = True
    client.force_login(User.objects.create_user("someone", password="x"))
    page = client.get("/dashboard/checks/web/home/")
    assert page.status_code == 200 and b'id="refresh"' not in page.content


def test_the_refresh_button_posts_with_csrf(check, db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("staff", password="x", is_staff=True))
    page = client.get("/dashboard/checks/web/home/")
    token = page.cookies["csrftoken"].value
    # As checks.js sends it: no body, the token in a header.
    refused = client.post("/checks/web/home/runs", content_type="application/json")
    assert refused.status_code == 403  # no token
    response = client.post(
        "/checks/web/home/runs", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 202


def test_badges_are_public(client, check):
    """For READMEs and wikis: the same facts as the public JSON API."""
    assert client.get("/dashboard/badges/checks/web/home.svg").status_code == 200


def test_telescope_bookmark_redirects_to_the_dashboard(client):
    response = client.get("/html/index.html")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    response = client.get("/html/index.html?tags=a")
    assert response["Location"] == "/dashboard/?tags=a"


def test_browsers_at_the_root_go_to_the_dashboard(client, db):
    """Periskop's alert links /#/{service}/errors/{key} arrive here (fragment kept)."""
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
