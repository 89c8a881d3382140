"""
Push: every bad body answers 400 (or 413 when too large) saying why, never 500:
raw NUL bytes and raw surrogate bytes are not JSON, nor UTF-8; escaped ones
(`\u0000`, `\ud800`: valid JSON) are stored as U+FFFD, as in scrapes. A push's
identity is its job and instance; an undeclared service is a plain 404.
Re-run on PostgreSQL by test_hostile_payloads.py.
"""

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from errors.models import ErrorGroup, Service
from errors.tests.periskop_instance import PeriskopInstance

pytestmark = pytest.mark.django_db

T0 = "2030-01-02T03:00:00Z"


def document(*aggregates, target_uuid=None) -> dict:
    body = {"aggregated_errors": list(aggregates)}
    if target_uuid:
        body["target_uuid"] = target_uuid
    return body


def aggregate(key="ValueError@job.py:1", total_count=1, message="job failed", **occurrence) -> dict:
    return {
        "aggregation_key": key,
        "total_count": total_count,
        "latest_errors": [{
            "error": {"class": "ValueError", "message": message, "stacktrace": ["job.py:1"]},
            "uuid": occurrence.pop("uuid", f"{key}-{total_count}"),
            "timestamp": T0,
            **occurrence,
        }],
    }


@pytest.fixture
def push(client):
    Service.objects.create(name="batch")
    token = Token.objects.create(user=User.objects.create_user("job")).key

    def post(body, path="/services/batch/push/"):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return client.post(path, data, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")

    return post


DEEP = b'{"aggregated_errors": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
MAX = 2**63 - 1


@pytest.mark.parametrize(
    "body, says",
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (DEEP, "nested too deeply"),
        (b'{"aggregated_errors": [], "x": "\xff"}', "not UTF-8"),
        (b"not json", "invalid JSON"),
        (b'{"aggregated_errors": [{"aggregation_key": "a\x00b", "total_count": 1}]}', "Invalid control character"),
        (b"\x00", "invalid JSON"),
        (b'{"aggregated_errors": [{"aggregation_key": "\xed\xa0\x80", "total_count": 1}]}', "not UTF-8"),
        (b"[]", "expected an object"),
        (b'{"aggregated_errors": [{"aggregation_key": "a", "total_count": NaN}]}', "NaN is not valid JSON"),
        (json.dumps(document(aggregate("a", MAX), aggregate("b", 1))), "add up to more than 2^63-1"),
        (json.dumps(document(aggregate("a", MAX + 1))), "total_count: expected a non-negative integer"),
        (json.dumps(document(aggregate("a", 1, request_body=None,
                                       http_context={"request_body": [[[[[]]]]] * 1}))), None),
    ],
    ids=["empty", "blank", "200k-deep", "not-utf8", "not-json", "raw-nul-in-a-string", "raw-nul",
         "raw-surrogate-bytes", "not-an-object", "nan",
         "counts-sum-past-2^63-1", "count-past-2^63-1", "nested-body-is-fine"],
)
def test_push_of_a_bad_body_is_a_clear_400(push, body, says):
    response = push(body)
    if says is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content[:300]
    assert "Not a Periskop payload" in response.json()["detail"]
    assert says in response.json()["detail"]
    assert not ErrorGroup.objects.exists()


def test_push_of_nul_and_surrogates_is_stored_with_replacement_characters(push):
    body = json.dumps(document(aggregate("Key\u0000Error@x", 2, message="a\ud800b\u0000c")))
    assert "\\u0000" in body and "\\ud800" in body  # escaped, as clients send them
    response = push(body)
    assert response.status_code == 200, response.content
    group = ErrorGroup.objects.get()
    assert (group.aggregation_key, group.total_count) == ("Key\ufffdError@x", 2)
    assert group.occurrences.get().message == "a\ufffdb\ufffdc"


def test_push_over_the_size_cap_is_413(push, settings):
    settings.ERRORS_MAX_BODY_BYTES = 1000
    body = json.dumps(document(aggregate(message="x" * 2000)))
    response = push(body)
    assert response.status_code == 413
    assert "ERRORS_MAX_BODY_BYTES" in response.json()["detail"]
    assert not ErrorGroup.objects.exists()


def test_push_under_the_size_cap_is_merged(push, settings):
    settings.ERRORS_MAX_BODY_BYTES = 1000
    assert push(document(aggregate(message="x" * 100))).status_code == 200


def test_pushes_from_three_jobs_without_target_uuid_add_up(push):
    for job, count in (("nightly", 5), ("hourly", 7), ("weekly", 3)):
        response = push(document(aggregate(total_count=count)), f"/services/batch/push/job/{job}/")
        assert response.status_code == 200, response.content
        assert response.json()["increment"] == count
    assert ErrorGroup.objects.get().total_count == 15


def test_pushes_of_one_job_from_two_instances_add_up(push):
    push(document(aggregate(total_count=5)), "/services/batch/push/job/etl/instance/a/")
    push(document(aggregate(total_count=7)), "/services/batch/push/job/etl/instance/b/errors")
    assert ErrorGroup.objects.get().total_count == 12


def test_the_same_job_pushing_a_grown_count_adds_the_difference(push):
    push(document(aggregate(total_count=5)), "/services/batch/push/job/etl/")
    push(document(aggregate(total_count=7)), "/services/batch/push/job/etl/errors")
    assert ErrorGroup.objects.get().total_count == 7


def test_totals_stop_at_the_largest_count_instead_of_failing(push):
    assert push(document(aggregate(total_count=MAX)), "/services/batch/push/job/a/").status_code == 200
    assert push(document(aggregate(total_count=5)), "/services/batch/push/job/b/").status_code == 200
    assert ErrorGroup.objects.get().total_count == MAX


def test_push_to_an_undeclared_service_is_a_plain_404_saying_so(push):
    response = push(document(aggregate()), "/services/nope/push/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == (
        "service nope not found: declare the service before pushing to it (admin, or import_config)\n"
    )


@pytest.mark.django_db(transaction=True)
def test_real_clients_push_under_a_job_path(live_server):
    """periskop-client posts to `addr + "/errors"`: a job's path takes that too."""
    Service.objects.create(name="batch")
    token = Token.objects.create(user=User.objects.create_user("job")).key
    host = live_server.url.removeprefix("http://")
    for job, times in (("nightly", 2), ("hourly", 3)):
        with PeriskopInstance() as instance:
            instance.report(ValueError("job failed"), times=times)
            instance._exporter.push_to_gateway(f"http://push:{token}@{host}/services/batch/push/job/{job}")
    assert ErrorGroup.objects.get().total_count == 5
