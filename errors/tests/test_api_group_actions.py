"""
POST /api/errors/groups/{id}/resolve/, /unresolve/, /ignore/: for staff sessions
(with CSRF) and API tokens only.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from errors import aggregation, payload
from errors.models import ErrorGroup, GroupStatus, Service

pytestmark = pytest.mark.django_db

CSRF_SECRET = "a" * 32


def action_url(group, name) -> str:
    return f"/api/errors/groups/{group.pk}/{name}/"


def post_json(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def reloaded(group) -> ErrorGroup:
    return ErrorGroup.objects.get(pk=group.pk)


@pytest.fixture
def group(make_group):
    return make_group("KeyError@cart.py:9", total_count=5)


@pytest.fixture
def csrf_client(db):
    """A staff session whose client checks CSRF like a browser's requests are checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("ops", is_staff=True))
    client.cookies["csrftoken"] = CSRF_SECRET
    return client


# --- who may ------------------------------------------------------------------------


def test_staff_session_with_csrf_token_resolves(csrf_client, group):
    response = csrf_client.post(action_url(group, "resolve"), HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    assert reloaded(group).status == GroupStatus.RESOLVED


def test_resolve_from_a_session_without_csrf_token_is_refused(csrf_client, group):
    response = csrf_client.post(action_url(group, "resolve"))
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_resolve_with_a_wrong_csrf_token_is_refused(csrf_client, group):
    response = csrf_client.post(action_url(group, "resolve"), HTTP_X_CSRFTOKEN="b" * 32)
    assert response.status_code == 403
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_api_token_resolves_without_csrf(group, api_token):
    client = Client(enforce_csrf_checks=True)
    response = client.post(action_url(group, "resolve"), HTTP_AUTHORIZATION=f"Token {api_token}")
    assert response.status_code == 200
    assert reloaded(group).status == GroupStatus.RESOLVED


@pytest.mark.parametrize("name", ["resolve", "unresolve", "ignore"])
def test_mutation_without_credentials_is_refused_with_401(client, group, name):
    response = client.post(action_url(group, name))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_resolve_with_a_wrong_token_is_refused(client, group):
    response = client.post(action_url(group, "resolve"), HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_resolve_with_the_token_of_an_inactive_user_is_refused(client, group):
    token = Token.objects.create(user=User.objects.create_user("gone", is_active=False))
    response = client.post(action_url(group, "resolve"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_resolve_from_a_non_staff_session_is_refused_with_403(client, group):
    client.force_login(User.objects.create_user("visitor"))
    response = client.post(action_url(group, "resolve"))
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]
    assert reloaded(group).status == GroupStatus.ACTIVE


@pytest.mark.parametrize("name", ["resolve", "unresolve", "ignore"])
def test_mutation_of_an_unknown_group_is_404(staff_client, group, name):
    assert staff_client.post(f"/api/errors/groups/999999/{name}/").status_code == 404


@pytest.mark.parametrize("name", ["resolve", "unresolve", "ignore"])
def test_mutations_only_accept_post(staff_client, group, name):
    assert staff_client.get(action_url(group, name)).status_code == 405
    assert staff_client.put(action_url(group, name)).status_code == 405


# --- what they do -------------------------------------------------------------------


def test_resolve_answers_the_updated_group(staff_client, group):
    body = staff_client.post(action_url(group, "resolve")).json()
    assert body["id"] == group.pk
    assert body["status"] == "resolved" and body["resolved_at"] is not None
    assert body["total_count"] == 5
    assert body["occurrences_url"].endswith(f"/api/errors/groups/{group.pk}/occurrences/")


def test_resolved_group_leaves_the_active_list(staff_client, group, make_group):
    make_group("other")
    staff_client.post(action_url(group, "resolve"))
    active = staff_client.get("/api/errors/groups/", {"status": "active"}).json()["results"]
    assert [g["aggregation_key"] for g in active] == ["other"]


def test_resolved_group_that_happens_again_comes_back_as_a_regression(staff_client):
    service = Service.objects.create(name="shop")
    aggregate = {"aggregation_key": "E@x:1", "total_count": 1, "latest_errors": []}
    document = {"aggregated_errors": [aggregate]}
    aggregation.ingest(service, payload.parse(document), "10.0.0.1")
    group = ErrorGroup.objects.get()
    staff_client.post(action_url(group, "resolve"))
    aggregate["total_count"] = 2
    aggregation.ingest(service, payload.parse(document), "10.0.0.1")
    active = staff_client.get("/api/errors/groups/", {"status": "active"}).json()["results"]
    assert [(g["aggregation_key"], g["regression"], g["total_count"]) for g in active] == [
        ("E@x:1", True, 2)
    ]


def test_resolve_clears_the_regression_flag(staff_client, make_group):
    group = make_group(regression=True)
    assert staff_client.post(action_url(group, "resolve")).json()["regression"] is False


def test_unresolve_makes_a_resolved_group_active(staff_client, make_group):
    group = make_group(status=GroupStatus.RESOLVED, resolved_at=timezone.now())
    body = staff_client.post(action_url(group, "unresolve")).json()
    assert body["status"] == "active" and body["resolved_at"] is None
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_unresolve_ends_an_ignore(staff_client, make_group):
    until = timezone.now() + timedelta(days=3)
    group = make_group(status=GroupStatus.IGNORED, ignored_until=until)
    body = staff_client.post(action_url(group, "unresolve")).json()
    assert body["status"] == "active" and body["ignored_until"] is None


def test_ignore_without_body_ignores_for_good(staff_client, group):
    body = staff_client.post(action_url(group, "ignore")).json()
    assert body["status"] == "ignored" and body["ignored_until"] is None
    stored = reloaded(group)
    assert stored.status == GroupStatus.IGNORED and stored.ignored_until is None


def test_ignore_with_null_until_ignores_for_good(staff_client, group):
    response = post_json(staff_client, action_url(group, "ignore"), {"until": None})
    assert response.status_code == 200
    assert reloaded(group).ignored_until is None


def test_ignore_until_a_date_hides_the_group_until_then(staff_client, group):
    until = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    response = staff_client.post(
        action_url(group, "ignore"), {"until": until.isoformat()}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["ignored_until"] == until.isoformat().replace("+00:00", "Z")
    assert reloaded(group).ignored_until == until
    listed = staff_client.get("/api/errors/groups/", {"status": "active"}).json()["results"]
    assert listed == []
    ignored = staff_client.get("/api/errors/groups/", {"status": "ignored"}).json()["results"]
    assert [g["id"] for g in ignored] == [group.pk]


def test_ignore_with_a_token_and_a_date_in_another_zone(client, group, api_token):
    until = timezone.now() + timedelta(hours=5)
    response = client.post(
        action_url(group, "ignore"),
        {"until": until.astimezone(timezone.get_fixed_timezone(120)).isoformat()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {api_token}",
    )
    assert response.status_code == 200
    assert reloaded(group).ignored_until == until


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"until": "next tuesday"}, "Datetime has wrong format"),
        ({"until": 12}, "Datetime has wrong format"),
        ({"until": "2001-01-01T00:00:00Z"}, "It must be in the future."),
    ],
)
def test_ignore_with_a_bad_until_is_refused(staff_client, group, body, message):
    response = post_json(staff_client, action_url(group, "ignore"), body)
    assert response.status_code == 400
    assert message in response.json()["until"][0]
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_ignore_with_a_body_that_is_not_json_is_refused(staff_client, group):
    response = post_json(staff_client, action_url(group, "ignore"), "{until")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_ignore_with_a_body_that_is_not_an_object_is_refused(staff_client, group):
    response = post_json(staff_client, action_url(group, "ignore"), ["2099-01-01"])
    assert response.status_code == 400
    assert reloaded(group).status == GroupStatus.ACTIVE


def test_resolve_with_a_token_takes_five_queries(
    client, group, api_token, django_assert_num_queries
):
    # The token with its user, the group, the update, Periskop's stored answer
    # marked stale, its known bugs (in the answer).
    with django_assert_num_queries(5):
        response = client.post(
            action_url(group, "resolve"), HTTP_AUTHORIZATION=f"Token {api_token}"
        )
    assert response.status_code == 200
