"""POST /checks/{project}/{name}/runs: queue a run, for staff and API tokens only."""


import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from audits.models import CheckRun
from testing.waiting import wait_until

URL = "/checks/proj/check/runs"


@pytest.fixture
def check(make_check):
    return make_check(module="counter")


def wait_for_runs(count: int, timeout=5.0) -> None:
    wait_until(lambda: CheckRun.objects.count() >= count, timeout, f"fewer than {count} runs")


@pytest.mark.django_db(transaction=True)
def test_staff_session_queues_a_run(client, check):
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.post(URL)
    assert response.status_code == 202
    assert response["Location"] == "/checks/proj/check"
    assert response.json()["history"] == "/checks/proj/check/history"
    wait_for_runs(1)


@pytest.mark.django_db(transaction=True)
def test_api_token_queues_a_run(client, check):
    token = Token.objects.create(user=User.objects.create_user("ci-bot"))
    response = client.post(URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 202
    wait_for_runs(1)


@pytest.mark.django_db
def test_anonymous_request_is_refused(client, check):
    response = client.post(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not CheckRun.objects.exists()


@pytest.mark.django_db
def test_non_staff_session_is_refused(client, check):
    client.force_login(User.objects.create_user("visitor"))
    assert client.post(URL).status_code == 403


@pytest.mark.django_db
def test_wrong_token_is_refused(client, check):
    response = client.post(URL, HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401


@pytest.mark.django_db
def test_session_without_csrf_token_is_refused(check):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.post(URL)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_check_is_404(client, check):
    client.force_login(User.objects.create_user("ops", is_staff=True))
    assert client.post("/checks/proj/nope/runs").status_code == 404


@pytest.mark.django_db
def test_get_is_not_allowed(client, check):
    client.force_login(User.objects.create_user("ops", is_staff=True))
    assert client.get(URL).status_code == 405


@pytest.mark.django_db
def test_unavailable_queue_is_a_clear_503(client, check, monkeypatch):
    from audits.api import views as api

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(api, "enqueue", broken)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.post(URL)
    assert response.status_code == 503
    assert "task queue is unavailable" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_staff_form_post_without_javascript_queues_a_run(check):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    client.get("/dashboard/")  # sets the CSRF cookie, as a browser would
    token = client.cookies["csrftoken"].value
    response = client.post(URL, {"csrfmiddlewaretoken": token})
    assert response.status_code == 202
    wait_for_runs(1)
