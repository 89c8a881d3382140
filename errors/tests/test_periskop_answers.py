"""
Periskop's answer for a service is rendered once per change and served as stored
bytes: a request costs the same few queries however many groups the service has,
and what changes the answer (a scrape, a push, a resolve, an ignore ending) shows
at the next request.
"""

import gzip
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from errors import scraper
from errors.models import ErrorGroup, PeriskopAnswer, Service
from errors.periskop import answers
from errors.tests.periskop_instance import PeriskopInstance

pytestmark = pytest.mark.django_db


def keys(client, service="shop") -> list[str]:
    return [g["aggregation_key"] for g in client.get(f"/services/{service}/errors/").json()]


def test_a_request_costs_one_query_whatever_the_number_of_groups(
    client, make_group, make_occurrence, django_assert_num_queries
):
    for i in range(30):
        make_occurrence(make_group(f"E{i}@x"), f"u{i}")
    client.get("/services/shop/errors/")  # renders it once
    with django_assert_num_queries(1):  # the stored answer's state, by the service's name
        response = client.get("/services/shop/errors/")
    assert len(response.json()) == 30
    assert response["Content-Type"] == "application/json"


def test_the_stored_answer_is_what_is_served(client, make_group, make_occurrence):
    make_occurrence(make_group("E@x", total_count=4), "u1")
    body = client.get("/services/shop/errors/").content
    stored = PeriskopAnswer.objects.get(service__name="shop", with_bodies=False)
    assert bytes(stored.body) == body
    assert json.loads(body)[0]["total_count"] == 4


def test_a_scrape_renders_the_answer(client, db):
    with PeriskopInstance() as instance:
        key = instance.report(ValueError("boom"), times=2)
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        scraper.scrape(service)
        rendered = PeriskopAnswer.objects.get(service=service, with_bodies=False)
        assert rendered.is_current(timezone.now())
        assert json.loads(bytes(rendered.body))[0]["aggregation_key"] == key
        instance.report(ValueError("boom"), times=3)
        scraper.scrape(service)
    assert client.get("/services/api/errors/").json()[0]["total_count"] == 5


def test_a_resolve_shows_at_the_next_request(client, make_group, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    make_group("A@x")
    make_group("B@x")
    assert sorted(keys(client)) == ["A@x", "B@x"]
    assert client.delete("/services/shop/errors/A@x/").status_code == 204
    assert keys(client) == ["B@x"]
    ErrorGroup.objects.get(aggregation_key="A@x").unresolve()
    assert sorted(keys(client)) == ["A@x", "B@x"]


def test_a_push_shows_at_the_next_request(client, make_group):
    make_group("A@x")
    assert keys(client) == ["A@x"]
    token = Token.objects.create(user=User.objects.create_user("job")).key
    pushed = {"aggregated_errors": [{"aggregation_key": "B@y", "total_count": 1, "latest_errors": []}]}
    response = client.post("/services/shop/push/", json.dumps(pushed), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert sorted(keys(client)) == ["A@x", "B@y"]


def test_an_ignore_that_ends_brings_the_group_back(client, make_group):
    group = make_group("A@x")
    group.ignore(until=timezone.now() + timedelta(hours=1))
    assert keys(client) == []
    stored = PeriskopAnswer.objects.get(service=group.service, with_bodies=False)
    assert stored.valid_until == group.ignored_until  # the answer changes then
    ErrorGroup.objects.filter(pk=group.pk).update(ignored_until=timezone.now() - timedelta(seconds=1))
    PeriskopAnswer.objects.filter(service=group.service).update(
        valid_until=timezone.now() - timedelta(seconds=1)
    )
    assert keys(client) == ["A@x"]


def test_a_resolve_during_a_rendering_makes_it_stale(make_group):
    group = make_group("A@x")
    before = timezone.now() - timedelta(seconds=5)
    # A rendering that read the groups before the resolve stores after it.
    PeriskopAnswer.invalidate(group.service_id)
    PeriskopAnswer.objects.filter(service=group.service).update(rendered_from=before)
    assert not PeriskopAnswer.objects.get(service=group.service, with_bodies=False).is_current(timezone.now())
    assert answers.answer(group.service, with_bodies=False)
    assert PeriskopAnswer.objects.get(service=group.service, with_bodies=False).is_current(timezone.now())


def test_an_unknown_service_is_periskops_plain_404(client, db):
    response = client.get("/services/nope/errors/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"service nope not found\n"


def test_resolving_an_unknown_key_is_a_plain_404(client, make_group, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    make_group("A@x")
    response = client.delete("/services/shop/errors/nope/")
    assert (response.status_code, response.content) == (404, b"404 page not found\n")
    response = client.delete("/services/nope/errors/A@x/")
    assert (response.status_code, response.content) == (404, b"service nope not found\n")


def test_clients_that_accept_gzip_get_the_answer_compressed(client, make_group, make_occurrence):
    for i in range(20):
        make_occurrence(make_group(f"E{i}@x"), f"u{i}")
    plain = client.get("/services/shop/errors/")
    compressed = client.get("/services/shop/errors/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert gzip.decompress(compressed.content) == plain.content
    assert len(compressed.content) < len(plain.content) / 4
    assert "Content-Encoding" not in plain


def test_a_process_holding_the_current_answer_reads_no_bytes(
    client, make_group, make_occurrence, django_assert_num_queries
):
    make_occurrence(make_group("E@x"), "u")
    first = client.get("/services/shop/errors/").content
    with django_assert_num_queries(1) as queries:
        assert client.get("/services/shop/errors/").content == first
    assert all('"body"' not in q["sql"] for q in queries.captured_queries)


def test_a_scrape_that_changes_nothing_keeps_the_rendered_answer(db):
    with PeriskopInstance() as instance:
        instance.report(ValueError("boom"), times=2)
        service = Service.objects.create(
            name="api", discovery={"static_configs": [{"targets": [instance.address]}]}
        )
        scraper.scrape(service)
        first = PeriskopAnswer.objects.get(service=service, with_bodies=False).rendered_from
        scraper.scrape(service)  # nothing new
        assert PeriskopAnswer.objects.get(service=service, with_bodies=False).rendered_from == first
        instance.report(ValueError("boom"))
        scraper.scrape(service)
        assert PeriskopAnswer.objects.get(service=service, with_bodies=False).rendered_from > first


def test_resolve_of_a_key_with_a_newline(client, make_group, settings):
    settings.ERRORS_ANONYMOUS_RESOLVE = True
    make_group("line1\nline2@x")
    assert client.delete("/services/shop/errors/line1%0Aline2@x/").status_code == 204
    assert client.delete("/services/shop/errors/no%0Asuch/").content == b"404 page not found\n"


@pytest.mark.django_db
def test_the_answer_s_bytes_are_its_table_s_last_column():
    # SQLite reads a row's columns in order: a column after a 12 MB body cost 2.8 ms
    # a request, reading through it (bench/bench_errors_api.py).
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, PeriskopAnswer._meta.db_table)
    assert columns[-1].name == "body"
