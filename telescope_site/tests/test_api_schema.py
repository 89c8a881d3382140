"""
The OpenAPI schema at /api/schema/ says what every endpoint really answers.

Every operation of the schema is called with Django's test client, for its success
and its main rejections, and openapi-core validates each real response against the
schema: its status code must be declared for the operation, its content type too,
and its body must be valid against the schema declared for them. Both ways: every
operation is called, and every status code an operation declares is produced by at
least one call, so a declared answer that no longer exists fails as well.
"""

import contextlib
import json
from dataclasses import dataclass, field
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from rest_framework.authtoken.models import Token

from audits.models import Check, Tag
from bugtracker.models import KnownBug, Tracker
from notifications.models import Channel, MaintenanceWindow
from errors.models import (
    ErrorGroup,
    GroupStatus,
    Occurrence,
    Service,
    Target,
    TargetStatus,
)

ECHO = "audits.tests.checkmods.echo"
CRASH = "audits.tests.checkmods.crash"
T0 = "2030-01-02T03:00:00Z"
PUSHED = {
    "aggregated_errors": [{
        "aggregation_key": "ValueError@job.py:1",
        "total_count": 1,
        "severity": "error",
        "latest_errors": [{
            "error": {"class": "ValueError", "message": "job failed", "stacktrace": ["job.py:1"],
                      "cause": None},
            "uuid": "5d9e5b4f-1c1a-4a4e-9a53-6f0cbb2c8c01",
            "timestamp": T0,
            "severity": "error",
            "http_context": None,
        }],
    }],
    "target_uuid": "batch-1",
}


class Request(DjangoOpenAPIRequest):
    """The request as openapi-core reads it to find the operation. Only responses
    are validated here, and DRF has read the body's stream already."""

    body = b""


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture(scope="module")
def openapi(schema) -> OpenAPI:
    return OpenAPI.from_dict(schema)


def operations(schema) -> dict[str, tuple[str, set[str]]]:
    """operationId -> (method, declared status codes)."""
    return {
        operation["operationId"]: (method, set(operation["responses"]))
        for item in schema["paths"].values()
        for method, operation in item.items()
    }


@pytest.fixture
def world(db, settings):
    """What the calls need: checks that pass, fail and crash, a known bug, an error
    service with a target, a group, an occurrence; a staff user and a token."""
    settings.REFRESH_SECRET = "s3cret"
    web = Tag.objects.create(name="web")
    green = Check.objects.create(project="green", name="ok", module=ECHO, params={"url": "u"})
    green.tags.add(web)
    red = Check.objects.create(project="red", name="ko", module=ECHO, params={"url": "u", "ok": False})
    red.tags.add(Tag.objects.create(name="failing"))
    crash = Check.objects.create(project="broken", name="crash", module=CRASH, params={})
    crash.tags.add(Tag.objects.create(name="crashing"))
    KnownBug.objects.create(tracker=Tracker.MANUAL, bug_id="OPS-1", summary="known",
                            whiteboard="green/ok errors:shop/KeyError@app.py:1")
    shop = Service.objects.create(name="shop")
    Target.objects.create(service=shop, address="10.0.0.1:8080", status=TargetStatus.UP,
                          labels={"zone": "eu-1"}, duration=0.1)
    group = ErrorGroup.objects.create(
        service=shop, aggregation_key="KeyError@app.py:1", total_count=3, first_seen=T0,
        last_seen=T0, error_class="KeyError", message="'k'", regression=True,
    )
    ErrorGroup.objects.create(service=shop, aggregation_key="old", status=GroupStatus.IGNORED,
                              ignored_until=T0)
    Occurrence.objects.create(
        group=group, uuid="u-1", timestamp=T0, error_class="KeyError", message="'k'",
        stacktrace=["app.py:1"], cause=[{"class": "OSError", "message": "disk", "stacktrace": []}],
        http_context={"request_method": "GET", "request_url": "http://x/a",
                      "request_headers": {}, "request_body": ""},
    )
    hook = Channel.objects.create(name="ops", kind="webhook", url="http://127.0.0.1:9/hook")
    deploy = MaintenanceWindow.objects.create(name="deploy", duration="2h", ends_at=None,
                                              crontab="0 2 * * *", projects=["green"])
    return {
        "channel": hook.pk,
        "window": deploy.pk,
        "group": group.pk,
        "staff": User.objects.create_user("ops", is_staff=True),
        "user": User.objects.create_user("someone"),
        "token": Token.objects.create(user=User.objects.create_user("ci-bot")).key,
    }


@dataclass(frozen=True)
class Call:
    """One request, and the status it must get."""

    operation: str  # its operationId in the schema
    what: str
    status: int
    method: str
    path: str  # "{group}": the group's id
    query: dict | None = None
    accept: str | None = None
    auth: str | None = None  # "token", or a session of "user" (not staff) or "staff"
    body: str | None = None  # JSON
    before: str | None = None  # a path to GET first (a run, for history and uptime)
    settings: dict = field(default_factory=dict)
    broker_down: bool = False


def get(operation, what, status, path, **options) -> Call:
    return Call(operation, what, status, "get", path, **options)


def post(operation, what, status, path, auth="token", **options) -> Call:
    return Call(operation, what, status, "post", path, auth=auth, **options)


def delete(operation, what, status, path, auth="token", **options) -> Call:
    return Call(operation, what, status, "delete", path, auth=auth, **options)


def patch(operation, what, status, path, auth="token", **options) -> Call:
    return Call(operation, what, status, "patch", path, auth=auth, **options)


def managed(prefix, item, valid, invalid, open_reads) -> list[Call]:
    """Every answer of a list/create/read/change/delete resource of the notifications API."""
    base, one, nope = f"/api/notifications/{item}/", f"/api/notifications/{item}/{{{item[:-1]}}}/", f"/api/notifications/{item}/999999/"
    reads = "" if open_reads else "token"
    calls = [
        get(f"{prefix}_list", "all", 200, base, auth=reads or None),
        get(f"{prefix}_retrieve", "one", 200, one, auth=reads or None),
        get(f"{prefix}_retrieve", "unknown", 404, nope, auth=reads or None),
        post(f"{prefix}_create", "created", 201, base, body=json.dumps(valid)),
        post(f"{prefix}_create", "invalid", 400, base, body=json.dumps(invalid)),
        post(f"{prefix}_create", "no credentials", 401, base, auth=None, body="{}"),
        post(f"{prefix}_create", "not staff", 403, base, auth="user", body="{}"),
        patch(f"{prefix}_update", "changed", 200, one, body=json.dumps({"name": "renamed"})),
        patch(f"{prefix}_update", "invalid", 400, one, body=json.dumps(invalid)),
        patch(f"{prefix}_update", "no credentials", 401, one, auth=None, body="{}"),
        patch(f"{prefix}_update", "not staff", 403, one, auth="user", body="{}"),
        patch(f"{prefix}_update", "unknown", 404, nope, body="{}"),
        delete(f"{prefix}_destroy", "deleted", 204, one),
        delete(f"{prefix}_destroy", "no credentials", 401, one, auth=None),
        delete(f"{prefix}_destroy", "not staff", 403, one, auth="user"),
        delete(f"{prefix}_destroy", "unknown", 404, nope),
    ]
    if not open_reads:
        calls += [
            get(f"{prefix}_list", "no credentials", 401, base),
            get(f"{prefix}_list", "not staff", 403, base, auth="user"),
            get(f"{prefix}_retrieve", "no credentials", 401, one),
            get(f"{prefix}_retrieve", "not staff", 403, one, auth="user"),
        ]
    return calls


def mutations(operation, action) -> list[Call]:
    """The refusals every group mutation shares."""
    return [
        post(operation, "no credentials", 401, f"/api/errors/groups/{{group}}/{action}/", auth=None),
        post(operation, "not staff", 403, f"/api/errors/groups/{{group}}/{action}/", auth="user"),
        post(operation, "unknown", 404, f"/api/errors/groups/999999/{action}/"),
    ]


def runs(operation, passing, failing, crashing, unknown) -> list[Call]:
    """What every endpoint that runs checks answers, by outcome, as JSON or text."""
    return [
        get(operation, "passed", 200, passing),
        get(operation, "passed, as a table", 200, passing, accept="text/plain"),
        get(operation, "failed", 503, failing),
        get(operation, "failed, as a table", 503, failing, accept="text/plain"),
        get(operation, "crashed", 500, crashing),
        get(operation, "unknown", 404, unknown),
        get(operation, "unknown, as text", 404, unknown, accept="text/plain"),
        get(operation, "unacceptable", 406, passing, accept="image/png"),
    ]


GROUP = "/api/errors/groups/{group}/"
KEY = "/services/shop/errors/KeyError@app.py:1/"
CALLS = [
    get("hello", "JSON", 200, "/"),
    get("hello", "browsers go to the dashboard", 302, "/", accept="text/html"),
    get("list_checks", "described", 200, "/checks"),
    *runs("run_project", "/checks/green", "/checks/red", "/checks/broken", "/checks/nope"),
    *runs("run_tags", "/checks/tags/web", "/checks/tags/failing", "/checks/tags/crashing",
          "/checks/tags/web+failing"),  # no check has both
    *runs("run_check", "/checks/green/ok", "/checks/red/ko", "/checks/broken/crash",
          "/checks/green/nope"),
    get("run_check", "refreshed", 200, "/checks/green/ok", query={"refresh": "s3cret"}),
    get("run_check", "URL parameter override", 200, "/checks/green/ok", query={"limit": "3"}),
    get("run_check", "wrong secret", 400, "/checks/green/ok", query={"refresh": "no"}),
    get("run_check", "bad override", 400, "/checks/green/ok", query={"limit": "many"}),
    get("run_check", "refresh disabled", 403, "/checks/green/ok", query={"refresh": "x"},
        settings={"REFRESH_SECRET": ""}),
    get("check_history", "runs", 200, "/checks/green/ok/history", before="/checks/green/ok"),
    get("check_history", "unknown", 404, "/checks/green/nope/history"),
    post("queue_run", "queued", 202, "/checks/green/ok/runs"),
    post("queue_run", "no credentials", 401, "/checks/green/ok/runs", auth=None),
    post("queue_run", "not staff", 403, "/checks/green/ok/runs", auth="user"),
    post("queue_run", "unknown", 404, "/checks/green/nope/runs"),
    post("queue_run", "queue down", 503, "/checks/green/ok/runs", broker_down=True),
    get("project_uptime", "percentages", 200, "/uptime/green", before="/checks/green"),
    get("project_uptime", "unknown", 404, "/uptime/nope"),
    get("check_uptime", "no run yet", 200, "/uptime/green/ok"),
    get("check_uptime", "unknown", 404, "/uptime/green/nope"),
    get("errors_groups_list", "a page", 200, "/api/errors/groups/", query={"page_size": 1}),
    get("errors_groups_list", "filtered", 200, "/api/errors/groups/",
        query={"status": "active", "search": "key"}),
    get("errors_groups_list", "unknown status", 400, "/api/errors/groups/", query={"status": "open"}),
    get("errors_groups_list", "past the last page", 404, "/api/errors/groups/", query={"page": 9}),
    get("errors_groups_retrieve", "one", 200, GROUP),
    get("errors_groups_retrieve", "unknown", 404, "/api/errors/groups/999999/"),
    get("errors_group_occurrences", "a page", 200, GROUP + "occurrences/"),
    get("errors_group_occurrences", "unknown", 404, "/api/errors/groups/999999/occurrences/"),
    get("errors_group_counts", "per hour", 200, GROUP + "counts/", query={"hours": 2}),
    get("errors_group_counts", "no hour", 400, GROUP + "counts/", query={"hours": 0}),
    get("errors_group_counts", "unknown", 404, "/api/errors/groups/999999/counts/"),
    post("errors_group_resolve", "resolved", 200, GROUP + "resolve/"),
    *mutations("errors_group_resolve", "resolve"),
    post("errors_group_unresolve", "active again", 200, GROUP + "unresolve/", auth="staff"),
    *mutations("errors_group_unresolve", "unresolve"),
    post("errors_group_ignore", "for good", 200, GROUP + "ignore/"),
    post("errors_group_ignore", "until a date", 200, GROUP + "ignore/",
         body=json.dumps({"until": "2999-01-01T00:00:00Z"})),
    post("errors_group_ignore", "a date past", 400, GROUP + "ignore/",
         body=json.dumps({"until": "2000-01-01T00:00:00Z"})),
    *mutations("errors_group_ignore", "ignore"),
    get("periskop_services", "names", 200, "/services/"),
    get("periskop_errors", "active groups", 200, "/services/shop/errors/"),
    get("periskop_errors", "unknown", 404, "/services/nope/errors/"),
    delete("periskop_resolve", "resolved", 204, KEY),
    delete("periskop_resolve", "no credentials", 401, KEY, auth=None),
    delete("periskop_resolve", "not staff", 403, KEY, auth="user"),
    delete("periskop_resolve", "unknown", 404, "/services/shop/errors/nope/"),
    post("periskop_push", "merged", 200, "/services/shop/push/", body=json.dumps(PUSHED)),
    post("periskop_push", "not a payload", 400, "/services/shop/push/", body="[]"),
    post("periskop_push", "no credentials", 401, "/services/shop/push/", auth=None, body="{}"),
    post("periskop_push", "not staff", 403, "/services/shop/push/", auth="user", body="{}"),
    post("periskop_push", "unknown", 404, "/services/nope/push/", body="{}"),
    get("periskop_targets", "by service", 200, "/targets/"),
    get("periskop_targets", "scraped and dropped", 200, "/targets/?state=any"),
    get("periskop_targets", "unknown state", 400, "/targets/?state=up"),
    post("periskop_push", "too large", 413, "/services/shop/push/", body=json.dumps(PUSHED),
         settings={"ERRORS_MAX_BODY_BYTES": 10}),
    *[
        get(operation, "anonymous, past the rate", 429, path, before=path,
            settings={"ERRORS_ANONYMOUS_RATE": "1/minute"})
        for operation, path in [
            ("periskop_services", "/services/"),
            ("periskop_errors", "/services/shop/errors/"),
            ("periskop_targets", "/targets/"),
            ("errors_groups_list", "/api/errors/groups/"),
            ("errors_groups_retrieve", GROUP),
            ("errors_group_occurrences", GROUP + "occurrences/"),
            ("errors_group_counts", GROUP + "counts/"),
        ]
    ],
    *managed("notifications_channels", "channels",
             {"name": "team", "kind": "email", "recipients": ["ops@example.com"]},
             {"kind": "email", "recipients": ["not an address"]}, open_reads=False),
    *managed("notifications_windows", "windows",
             {"name": "silence", "duration": "2h", "checks": ["red/ko"]},
             {"duration": "2h", "checks": ["red/nope"]}, open_reads=True),
]


def make(call: Call, client, world, settings):
    """Make `call` with the test client; its response."""
    for name, value in call.settings.items():
        setattr(settings, name, value)
    if call.before:
        client.get(call.before.format(group=world["group"]))
    headers = {"HTTP_ACCEPT": call.accept} if call.accept else {}
    if call.auth == "token":
        headers["HTTP_AUTHORIZATION"] = f"Token {world['token']}"
    elif call.auth:
        client.force_login(world[call.auth])
    if call.body is not None:
        headers.update(data=call.body, content_type="application/json")
    elif call.query:
        headers["data"] = call.query
    path = call.path.format(group=world["group"], channel=world["channel"], window=world["window"])
    broker = mock.patch("audits.api.views.enqueue", side_effect=ConnectionError("broker down"))
    with broker if call.broker_down else contextlib.nullcontext():
        return getattr(client, call.method)(path, **headers)


@pytest.mark.parametrize("call", CALLS, ids=[f"{c.operation}: {c.what}" for c in CALLS])
def test_the_response_is_what_the_schema_declares(schema, openapi, world, settings, client, call):
    method, _ = operations(schema)[call.operation]
    response = make(call, client, world, settings)
    assert response.status_code == call.status, response.content[:500]
    assert response.wsgi_request.method.lower() == method  # it reaches the operation it names
    openapi.validate_response(Request(response.wsgi_request), DjangoOpenAPIResponse(response))


def test_every_operation_and_every_declared_status_is_called(schema):
    called = {(call.operation, str(call.status)) for call in CALLS}
    declared = {
        (operation_id, status)
        for operation_id, (_, statuses) in operations(schema).items()
        for status in statuses
    }
    assert declared - called == set(), "declared answers that no call here produces"
    assert called - declared == set(), "answers that the schema does not declare"
