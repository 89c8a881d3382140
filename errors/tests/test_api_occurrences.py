"""
GET /api/errors/groups/{id}/occurrences/ and /counts/: a group's samples, and its
counts per hour.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from errors import aggregation, payload
from errors.models import ErrorGroup, HourlyCount, Service

pytestmark = pytest.mark.django_db


def occurrences_url(group) -> str:
    return f"/api/errors/groups/{group.pk}/occurrences/"


def counts_url(group) -> str:
    return f"/api/errors/groups/{group.pk}/counts/"


PERISKOP_DOCUMENT = {
    "target_uuid": "0d8e4d26-7e4c-4a57-9a34-7a5b5b2c6f00",
    "aggregated_errors": [{
        "aggregation_key": "ZeroDivisionError@app.py:7",
        "total_count": 3,
        "severity": "error",
        "latest_errors": [{
            "uuid": "5d9893c6-51d6-11ea-8aad-f894c260afe5",
            "timestamp": "2030-01-02T03:04:05.678Z",
            "severity": "error",
            "error": {
                "class": "ZeroDivisionError",
                "message": "division by zero",
                "stacktrace": ["File \"app.py\", line 7, in handler", "1 / 0"],
                "cause": {
                    "class": "KeyError", "message": "'total'", "stacktrace": [], "cause": None,
                },
            },
            "http_context": {
                "request_method": "POST",
                "request_url": "http://shop/cart",
                "request_headers": {"Accept": "application/json"},
                "request_body": "{}",
            },
        }],
    }],
}


def test_occurrences_of_a_scraped_group_carry_everything_the_client_sent(client, api_token):
    service = Service.objects.create(name="shop")
    aggregation.ingest(service, payload.parse(PERISKOP_DOCUMENT), "http://10.0.0.1:8000/errors")
    group = ErrorGroup.objects.get()
    # With a token: request bodies are for token holders and staff.
    response = client.get(occurrences_url(group), HTTP_AUTHORIZATION=f"Token {api_token}")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None
    assert body["results"] == [{
        "uuid": "5d9893c6-51d6-11ea-8aad-f894c260afe5",
        "timestamp": "2030-01-02T03:04:05.678000Z",
        "severity": "error",
        "error_class": "ZeroDivisionError",
        "message": "division by zero",
        "stacktrace": ["File \"app.py\", line 7, in handler", "1 / 0"],
        "cause": [{"class": "KeyError", "message": "'total'", "stacktrace": []}],
        "http_context": {
            "request_method": "POST",
            "request_url": "http://shop/cart",
            "request_headers": {"Accept": "application/json"},
            "request_body": "{}",
        },
    }]


def test_occurrences_are_newest_first_20_a_page(client, make_group, make_occurrence):
    group = make_group()
    start = timezone.now() - timedelta(days=1)
    for i in range(25):
        make_occurrence(group, f"u{i:02}", start + timedelta(minutes=i))
    first = client.get(occurrences_url(group)).json()
    assert first["count"] == 25
    assert [o["uuid"] for o in first["results"]] == [f"u{i:02}" for i in range(24, 4, -1)]
    second = client.get(first["next"]).json()
    assert [o["uuid"] for o in second["results"]] == ["u04", "u03", "u02", "u01", "u00"]


def test_occurrences_are_those_of_the_group_only(client, make_group, make_occurrence):
    group, other = make_group("a"), make_group("b")
    make_occurrence(group, "mine")
    make_occurrence(other, "theirs")
    assert [o["uuid"] for o in client.get(occurrences_url(group)).json()["results"]] == ["mine"]


def test_group_without_occurrences_has_an_empty_page(client, make_group):
    body = client.get(occurrences_url(make_group())).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_occurrences_of_an_unknown_group_are_404(client, make_group):
    make_group()
    assert client.get("/api/errors/groups/999999/occurrences/").status_code == 404


def test_occurrence_page_past_the_end_is_404(client, make_group, make_occurrence):
    group = make_group()
    make_occurrence(group, "u")
    assert client.get(occurrences_url(group), {"page": 2}).status_code == 404


def test_occurrences_take_three_queries(
    client, make_group, make_occurrence, django_assert_num_queries
):
    group = make_group()
    for i in range(30):
        make_occurrence(group, f"u{i}", timezone.now() - timedelta(minutes=i))
    # The group (or a 404), the count, the page.
    with django_assert_num_queries(3):
        assert client.get(occurrences_url(group)).status_code == 200


def this_hour():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def test_counts_list_the_hours_with_occurrences_of_the_last_week(client, make_group):
    group, other = make_group("a"), make_group("b")
    hour = this_hour()
    HourlyCount.objects.create(group=group, hour=hour, count=4)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(hours=5), count=2)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(hours=167), count=1)
    HourlyCount.objects.create(group=group, hour=hour - timedelta(hours=168), count=9)  # too old
    HourlyCount.objects.create(group=other, hour=hour, count=100)
    response = client.get(counts_url(group))
    assert response.status_code == 200
    body = response.json()
    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    assert body == {
        "hours": 168,
        "start": iso(hour - timedelta(hours=167)),
        "end": iso(hour + timedelta(hours=1)),
        "buckets": [
            {"hour": iso(hour - timedelta(hours=167)), "count": 1},
            {"hour": iso(hour - timedelta(hours=5)), "count": 2},
            {"hour": iso(hour), "count": 4},
        ],
    }


def test_counts_window_is_chosen_in_hours(client, make_group):
    group = make_group()
    HourlyCount.objects.create(group=group, hour=this_hour(), count=4)
    HourlyCount.objects.create(group=group, hour=this_hour() - timedelta(hours=1), count=2)
    body = client.get(counts_url(group), {"hours": 1}).json()
    assert body["hours"] == 1 and [b["count"] for b in body["buckets"]] == [4]
    body = client.get(counts_url(group), {"hours": 24 * 90}).json()
    assert [b["count"] for b in body["buckets"]] == [2, 4]


def test_counts_follow_what_ingestion_adds(client):
    service = Service.objects.create(name="shop")
    aggregation.ingest(service, payload.parse(PERISKOP_DOCUMENT), "http://10.0.0.1:8000/errors")
    body = client.get(counts_url(ErrorGroup.objects.get())).json()
    assert [b["count"] for b in body["buckets"]] == [3]


@pytest.mark.parametrize("hours", ["0", "-3", "2161", "week", "1.5"])
def test_counts_refuse_a_bad_window(client, make_group, hours):
    response = client.get(counts_url(make_group()), {"hours": hours})
    assert response.status_code == 400
    assert "hours" in response.json()


def test_counts_of_an_unknown_group_are_404(client, make_group):
    make_group()
    assert client.get("/api/errors/groups/999999/counts/").status_code == 404


def test_counts_take_two_queries(client, make_group, django_assert_num_queries):
    group = make_group()
    for i in range(50):
        HourlyCount.objects.create(group=group, hour=this_hour() - timedelta(hours=i), count=i + 1)
    with django_assert_num_queries(2):
        assert len(client.get(counts_url(group)).json()["buckets"]) == 50
