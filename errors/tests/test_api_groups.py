"""GET /api/errors/groups/ and /api/errors/groups/{id}/: open reads of error groups."""

from datetime import timedelta

import pytest
from django.utils import timezone

from errors.models import GroupStatus
from errors.tests.conftest import T0

URL = "/api/errors/groups/"

pytestmark = pytest.mark.django_db


def keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [group["aggregation_key"] for group in response.json()["results"]]


def keys_of(body) -> list[str]:
    return [group["aggregation_key"] for group in body["results"]]


def test_list_describes_each_group(client, make_group):
    group = make_group(
        "ValueError@views.py:12", total_count=7, severity="warning",
        message="invalid literal for int()", regression=True,
    )
    body = client.get(URL).json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    assert body["results"] == [{
        "id": group.pk,
        "service": "shop",
        "aggregation_key": "ValueError@views.py:12",
        "severity": "warning",
        "total_count": 7,
        "first_seen": "2030-01-02T03:00:00Z",
        "last_seen": "2030-01-02T03:00:00Z",
        "status": "active",
        "resolved_at": None,
        "ignored_until": None,
        "regression": True,
        "error_class": "ValueError",
        "message": "invalid literal for int()",
        "url": f"http://testserver/api/errors/groups/{group.pk}/",
    }]


def test_list_is_open_to_anonymous_readers_and_ignores_bad_tokens(client, make_group):
    make_group()
    assert client.get(URL).status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION="Token not-a-token").status_code == 200


def test_list_is_newest_first_by_default(client, make_group):
    make_group("old", last_seen=T0 - timedelta(days=1))
    make_group("new", last_seen=T0)
    make_group("middle", last_seen=T0 - timedelta(hours=1))
    assert keys(client.get(URL)) == ["new", "middle", "old"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("last_seen", ["a", "b", "c"]),
        ("-last_seen", ["c", "b", "a"]),
        ("total_count", ["b", "c", "a"]),
        ("-total_count", ["a", "c", "b"]),
        ("first_seen", ["c", "a", "b"]),
        ("-first_seen", ["b", "a", "c"]),
    ],
)
def test_list_orders_by_the_requested_field(client, make_group, ordering, expected):
    make_group("a", last_seen=T0, first_seen=T0 - timedelta(days=2), total_count=30)
    make_group("b", last_seen=T0 + timedelta(hours=1), first_seen=T0, total_count=1)
    make_group(
        "c", last_seen=T0 + timedelta(hours=2), first_seen=T0 - timedelta(days=9), total_count=5
    )
    assert keys(client.get(URL, {"ordering": ordering})) == expected


def test_groups_never_seen_come_last_in_both_directions(client, make_group):
    make_group("dated", first_seen=T0)
    make_group("undated", first_seen=None)
    assert keys(client.get(URL, {"ordering": "first_seen"})) == ["dated", "undated"]
    assert keys(client.get(URL, {"ordering": "-first_seen"})) == ["dated", "undated"]


def test_unknown_ordering_is_refused_with_the_allowed_values(client, make_group):
    response = client.get(URL, {"ordering": "message"})
    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert '"message" is not allowed' in message
    for allowed in ["-last_seen", "last_seen", "total_count", "-total_count", "first_seen"]:
        assert allowed in message


def test_service_filter_keeps_that_service_only(client, make_group):
    make_group("a", service="shop")
    make_group("b", service="billing")
    assert keys(client.get(URL, {"service": "billing"})) == ["b"]
    assert keys(client.get(URL, {"service": "nope"})) == []


def test_active_status_is_active_groups_and_ignores_that_ran_out(client, make_group):
    now = timezone.now()
    make_group("active")
    make_group("resolved", status=GroupStatus.RESOLVED, resolved_at=now)
    make_group("ignored for good", status=GroupStatus.IGNORED)
    make_group("ignored for now", status=GroupStatus.IGNORED, ignored_until=now + timedelta(days=1))
    make_group("ignore over", status=GroupStatus.IGNORED, ignored_until=now - timedelta(minutes=1))
    assert sorted(keys(client.get(URL, {"status": "active"}))) == ["active", "ignore over"]
    assert keys(client.get(URL, {"status": "resolved"})) == ["resolved"]
    assert sorted(keys(client.get(URL, {"status": "ignored"}))) == [
        "ignored for good", "ignored for now",
    ]
    assert len(keys(client.get(URL))) == 5


def test_a_group_whose_ignore_ran_out_reads_active(client, make_group):
    until = timezone.now() - timedelta(minutes=1)
    make_group(status=GroupStatus.IGNORED, ignored_until=until)
    group = client.get(URL).json()["results"][0]
    assert group["status"] == "active"
    assert group["ignored_until"] is not None


def test_unknown_status_is_refused_with_the_allowed_values(client, make_group):
    response = client.get(URL, {"status": "open"})
    assert response.status_code == 400
    assert response.json() == {
        "status": ['"open" is not allowed: use one of active, resolved, ignored.']
    }


def test_severity_filter(client, make_group):
    make_group("e", severity="error")
    make_group("w", severity="warning")
    assert keys(client.get(URL, {"severity": "warning"})) == ["w"]


def test_search_looks_in_key_class_and_message_ignoring_case(client, make_group):
    make_group("by-key: PaymentDeclined@pay.py:3", error_class="X", message="")
    make_group("by-class", error_class="payments.CardError", message="")
    make_group("by-message", error_class="Y", message="The PAYMENT gateway timed out")
    make_group("unrelated", error_class="Z", message="disk full")
    found = keys(client.get(URL, {"search": "payment"}))
    assert sorted(found) == ["by-class", "by-key: PaymentDeclined@pay.py:3", "by-message"]


def test_filters_combine(client, make_group):
    make_group("a", service="shop", severity="error", message="timeout")
    make_group("b", service="shop", severity="warning", message="timeout")
    make_group("c", service="billing", severity="error", message="timeout")
    make_group("d", service="shop", severity="error", message="other")
    query = {"service": "shop", "severity": "error", "search": "time", "status": "active"}
    assert keys(client.get(URL, query)) == ["a"]


def test_list_is_paginated_by_50(client, make_group):
    for i in range(55):
        make_group(f"k{i:02}", last_seen=T0 + timedelta(minutes=i))
    first = client.get(URL).json()
    assert first["count"] == 55 and len(first["results"]) == 50
    assert first["results"][0]["aggregation_key"] == "k54"
    assert first["next"] == "http://testserver/api/errors/groups/?page=2"
    second = client.get(first["next"]).json()
    assert keys_of(second) == ["k04", "k03", "k02", "k01", "k00"]
    assert second["next"] is None and second["previous"] is not None


def test_page_size_is_chosen_up_to_200(client, make_group):
    for i in range(205):
        make_group(f"k{i}")
    assert len(client.get(URL, {"page_size": 5}).json()["results"]) == 5
    assert len(client.get(URL, {"page_size": 1000}).json()["results"]) == 200


def test_pages_do_not_overlap_when_groups_tie(client, make_group):
    for i in range(7):
        make_group(f"k{i}", last_seen=T0)  # all equal: the id breaks the tie
    seen = []
    for page in (1, 2, 3):
        seen += keys(client.get(URL, {"page_size": 3, "page": page}))
    assert sorted(seen) == [f"k{i}" for i in range(7)]


def test_page_past_the_end_is_404(client, make_group):
    make_group()
    assert client.get(URL, {"page": 2}).status_code == 404
    assert client.get(URL, {"page": "x"}).status_code == 404


def test_list_takes_two_queries_however_many_groups(client, make_group, django_assert_num_queries):
    for i in range(30):
        make_group(f"k{i}", service=f"svc{i % 3}")
    # The count for pagination, then one page with its services joined.
    with django_assert_num_queries(2):
        response = client.get(URL, {"status": "active", "search": "k", "ordering": "-total_count"})
    assert response.json()["count"] == 30


def test_detail_links_to_occurrences_and_counts(client, make_group):
    group = make_group("TypeError@x.py:1", total_count=2)
    response = client.get(f"{URL}{group.pk}/")
    assert response.status_code == 200
    body = response.json()
    base = f"http://testserver/api/errors/groups/{group.pk}/"
    assert body["id"] == group.pk and body["aggregation_key"] == "TypeError@x.py:1"
    assert body["url"] == base
    assert body["occurrences_url"] == f"{base}occurrences/"
    assert body["counts_url"] == f"{base}counts/"


def test_detail_takes_two_queries(client, make_group, django_assert_num_queries):
    group = make_group()
    # The group with its service, then its known bugs (bugtracker).
    with django_assert_num_queries(2):
        assert client.get(f"{URL}{group.pk}/").status_code == 200


def test_unknown_group_is_404(client, make_group):
    make_group()
    assert client.get(f"{URL}999999/").status_code == 404
    assert client.get(f"{URL}abc/").status_code == 404


def test_groups_cannot_be_created_or_deleted(staff_client, make_group):
    group = make_group()
    assert staff_client.post(URL, {}).status_code == 405
    assert staff_client.delete(f"{URL}{group.pk}/").status_code == 405
