"""
A cached check is answered from its cached answer, with no query; every kind of
change to the checks (a save, a queryset update, a bulk update, a delete, tags,
the import, the admin) is seen at once, by this process and by the others, whose
copies of the checks the definitions version in the cache invalidates.
"""

import json
import logging

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audits import definitions, runner
from audits.models import DEFINITIONS_VERSION_KEY, Check, Tag, definitions_version
from audits.tests.checkmods import counter
from foundation import metrics

URL = "/checks/proj/one"


def get(client, url=URL, **headers):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    return response, len(captured)


@pytest.fixture
def one(make_check):
    return make_check(name="one", module="counter", tags=["a"], description="First.")


def test_a_cached_check_is_answered_with_no_query_and_the_same_bytes(client, one):
    first, _ = get(client)
    again, queries = get(client)
    assert queries == 0
    assert (again.status_code, again.content) == (200, first.content)
    assert again["Content-Type"] == "application/json"
    assert counter.calls() == [""]  # one run


def test_the_cached_answer_is_what_the_view_renders(client, one):
    get(client)
    cached_body = get(client)[0].content
    rendered = client.get(URL + "?unrelated=1").content  # a query string: the view's way
    assert json.loads(cached_body) == json.loads(rendered)


def test_a_failing_check_is_answered_503_from_the_cache(client, make_check):
    make_check(name="one", module="echo", params={"url": "u", "ok": False})
    assert get(client)[0].status_code == 503
    response, queries = get(client)
    assert (response.status_code, queries) == (503, 0)


@pytest.mark.parametrize("headers", [
    {"QUERY_STRING": "x=1"},
    {"HTTP_ACCEPT": "text/plain"},
])
def test_a_query_string_or_plain_text_goes_the_normal_way(client, one, headers):
    get(client)
    response, queries = get(client, **headers)
    assert response.status_code == 200
    assert queries > 0  # history and known bugs, read for this answer


def test_a_new_result_replaces_the_cached_answer(client, one):
    assert json.loads(get(client)[0].content)["data"] == 1
    runner.run_check(one, force=True)
    assert json.loads(get(client)[0].content)["data"] == 2


def test_a_result_that_expired_is_run_again(client, make_check):
    make_check(name="one", module="counter", ttl=0)
    assert json.loads(get(client)[0].content)["data"] == 1
    assert json.loads(get(client)[0].content)["data"] == 2


# --- Every kind of change is seen at once ---------------------------------------------


def _save(check):
    check.description = "Changed."
    check.save()


def _save_fields(check):
    check.description = "Changed."
    check.save(update_fields=["description"])


def _update(check):
    Check.objects.filter(pk=check.pk).update(description="Changed.")


def _bulk_update(check):
    check.description = "Changed."
    Check.objects.bulk_update([check], ["description"])


def _import(check, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[checks.proj.one]\ndescription = "Changed."\n'
        'module = "audits.tests.checkmods.counter"\ntags = ["a"]\n'
    )
    call_command("import_config", str(config), verbosity=0)


def _admin(check, client):
    client.force_login(User.objects.create_superuser("admin"))
    form = {
        "project": "proj", "name": "one", "module": check.module, "params": "{}",
        "schedule": "", "failure_threshold": 1, "recovery_threshold": 1, "position": 0, "enabled": "on",
        "description": "Changed.", "plot": "", "ttl": "", "tags": [Tag.objects.get().pk],
    }
    response = client.post(f"/admin/audits/check/{check.pk}/change/", form)
    assert response.status_code == 302, response.content
    client.logout()


CHANGES = {"save": _save, "save_fields": _save_fields, "update": _update,
           "bulk_update": _bulk_update, "import": _import, "admin": _admin}


@pytest.mark.parametrize("kind", CHANGES)
def test_a_change_is_answered_at_once(client, one, tmp_path, kind):
    get(client)
    change = CHANGES[kind]
    arguments = {"import": (one, tmp_path), "admin": (one, client)}.get(kind, (one,))
    change(*arguments)
    assert json.loads(get(client)[0].content)["description"] == "Changed."


@pytest.mark.parametrize("delete", [
    lambda check: check.delete(),
    lambda check: Check.objects.filter(pk=check.pk).delete(),
    lambda check: Check.objects.filter(pk=check.pk).update(enabled=False),
])
def test_a_deleted_or_disabled_check_is_gone_at_once(client, one, delete):
    get(client)
    delete(one)
    assert get(client)[0].status_code == 404


def test_tags_changed_or_renamed_are_answered_at_once(client, one):
    get(client)
    one.tags.add(Tag.objects.create(name="b"))
    assert json.loads(get(client)[0].content)["tags"] == ["a", "b"]
    Tag.objects.filter(name="a").get().delete()
    assert json.loads(get(client)[0].content)["tags"] == ["b"]
    tag = Tag.objects.get(name="b")
    tag.name = "c"
    tag.save()
    assert json.loads(get(client)[0].content)["tags"] == ["c"]


def test_a_new_check_is_found_at_once(client, one, make_check):
    get(client)
    make_check(name="two", module="counter")
    assert get(client, "/checks/proj/two")[0].status_code == 200
    Check.objects.bulk_create([Check(project="proj", name="three", module=one.module)])
    assert get(client, "/checks/proj/three")[0].status_code == 200


def test_runs_and_refresh_claims_leave_the_version_alone(client, one):
    get(client)
    version = definitions_version()
    runner.run_check(one, force=True)  # history, state: RUN_STATE_FIELDS only
    Check.objects.filter(pk=one.pk).update(next_refresh_at=None)
    assert definitions_version() == version
    get(client)  # the new result's answer, rendered once
    assert get(client)[1] == 0


def test_another_process_sees_a_change_through_the_version(client, one):
    get(client)
    copy = definitions.current()
    # Another process changed the check: only the version in the cache says so.
    Check.objects.filter(pk=one.pk).update(description="Changed.")
    assert definitions.current() is not copy
    assert definitions.current().check("proj", "one").description == "Changed."


def test_a_lost_version_reloads_the_checks(client, one):
    get(client)
    copy = definitions.current()
    cache.delete(DEFINITIONS_VERSION_KEY)  # evicted, or the cache restarted
    assert definitions.current() is not copy
    assert get(client)[0].status_code == 200


def test_a_run_stores_its_state_on_the_row_not_on_the_shared_copy(client, one):
    get(client)
    shared = definitions.current().check("proj", "one")
    assert shared.last_run_at is None  # as loaded: a run never writes on it
    assert Check.objects.get(pk=one.pk).last_run_at is not None


# --- Projects and tags -----------------------------------------------------------------


@pytest.fixture
def project(make_check):
    return [make_check(name=f"c{i}", module="counter", params={"key": f"c{i}"}, tags=["t"])
            for i in range(3)]


@pytest.mark.parametrize("url", ["/checks/proj", "/checks/tags/t"])
def test_a_warm_project_or_tag_is_answered_with_no_query(client, project, url):
    first = get(client, url)[0]
    get(client, url)
    again, queries = get(client, url)
    assert (again.status_code, queries) == (200, 0)
    assert json.loads(again.content) == json.loads(first.content)


@pytest.mark.parametrize("url", ["/checks/proj", "/checks/tags/t"])
def test_a_new_result_in_a_project_or_tag_is_answered_at_once(client, project, url):
    get(client, url)
    get(client, url)
    runner.run_check(project[1], force=True)
    data = {r["name"]: r["data"] for r in json.loads(get(client, url)[0].content)}
    assert data["c1"] == 4  # three first runs, then this one


def test_a_changed_check_in_a_project_is_answered_at_once(client, project):
    get(client, "/checks/proj")
    get(client, "/checks/proj")
    Check.objects.filter(pk=project[0].pk).update(description="Changed.")
    first = json.loads(get(client, "/checks/proj")[0].content)[0]
    assert first["description"] == "Changed."


def test_a_project_with_a_result_never_cached_is_never_kept(client, project, make_check):
    make_check(name="fresh", module="counter", params={"key": "fresh"}, ttl=0)
    for _ in range(3):
        get(client, "/checks/proj")
    assert counter.calls().count("fresh") == 3


def test_a_cached_answer_is_logged_and_counted_under_its_route(client, one, caplog):
    route = "/checks/<str:project>/<str:name>"
    counted = metrics.REQUESTS.labels("GET", route, 200)
    get(client)
    before = counted._value.get()
    caplog.set_level(logging.INFO, logger="request.summary")
    response, queries = get(client)
    assert queries == 0  # the cached answer
    assert counted._value.get() == before + 1
    [record] = [r for r in caplog.records if r.name == "request.summary"]
    assert (record.path, record.code) == (URL, 200)


@pytest.mark.parametrize("url", [URL, "/checks/proj"])
def test_a_cached_answer_carries_the_headers_of_the_rendered_one(client, one, url):
    # Without Content-Length, gunicorn frames the answer in chunks: a third write
    # to the socket for each request, the costliest part of a cached answer.
    rendered, _ = get(client, url)
    get(client, url)  # a project's answer is kept from its first answer of cached results
    cached, queries = get(client, url)
    assert queries == 0, "the second request should be the cached answer"
    assert cached["Content-Length"] == str(len(cached.content))
    assert dict(cached.headers) == dict(rendered.headers)
