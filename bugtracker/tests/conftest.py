"""
Fixtures of the bug tracker tests: a fake Bugzilla REST server on 127.0.0.1
(`testing.upstream.Upstream`), checks, error groups and bugs made in one line.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

import checks.config
from audits.models import Check
from bugtracker.models import KnownBug, Tracker
from errors.models import ErrorGroup, Service

API_KEY = "bz-api-key-0123456789"
SEARCH = "/rest/bug"


def bz_time(hours_ago: float) -> str:
    """A Bugzilla timestamp, `hours_ago` hours before now."""
    moment = timezone.now() - timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bz_bug(bug_id, whiteboard="", summary=None, status="NEW", is_open=True, hours_ago=1.0,
           groups=()):
    """One bug as Bugzilla's REST search returns it with our include_fields."""
    return {
        "id": bug_id,
        "summary": f"Bug number {bug_id}" if summary is None else summary,
        "status": status,
        "is_open": is_open,
        "last_change_time": bz_time(hours_ago),
        "whiteboard": whiteboard,
        "groups": list(groups),
    }


class FakeBugzilla:
    """The fake tracker: `answer([bugs])` programs the search's answer."""

    def __init__(self, upstream):
        self.upstream = upstream

    def answer(self, bugs=(), status=200, delay=0.0, body=None, headers=None):
        if body is not None:
            self.upstream.route(SEARCH, status=status, body=body, delay=delay, headers=headers)
        else:
            self.upstream.route(SEARCH, status=status, json={"bugs": list(bugs)}, delay=delay)

    @property
    def hits(self) -> int:
        return self.upstream.hits(SEARCH)

    @property
    def searches(self) -> list:
        return [(path, headers) for _, path, headers in self.upstream.requests
                if path.startswith(SEARCH)]


@pytest.fixture
def fast_http():
    """Short timeouts and no retries, so that a slow tracker costs a fraction of a second."""
    previous = checks.config.current
    checks.config.configure(timeout_seconds=0.5, connect_timeout_seconds=0.5, max_retries=0)
    yield
    checks.config.current = previous


@pytest.fixture
def bugzilla(upstream, settings, fast_http):
    """A fake Bugzilla at BUGTRACKER_URL answering no bugs; SERVICE_NAME telescope, ENV prod."""
    settings.BUGTRACKER_URL = upstream.url("").rstrip("/")
    settings.BUGTRACKER_API_KEY = ""
    settings.BUGTRACKER_TTL = 3600
    settings.SERVICE_NAME = "telescope"
    settings.ENV_NAME = "prod"
    fake = FakeBugzilla(upstream)
    fake.answer([])
    return fake


@pytest.fixture
def no_lazy_sync(monkeypatch):
    """Records the syncs pages queue instead of running them."""
    queued = []
    monkeypatch.setattr("bugtracker.tasks.enqueue", lambda task, *args: queued.append(args))
    return queued


@pytest.fixture
def make_check(db):
    def make(project="proj", name="check", **fields):
        fields.setdefault("module", "audits.tests.checkmods.counter")
        return Check.objects.create(project=project, name=name, **fields)

    return make


@pytest.fixture
def make_group(db):
    def make(key="KeyError@app.py:1", service="shop", **fields):
        service, _ = Service.objects.get_or_create(name=service)
        return ErrorGroup.objects.create(service=service, aggregation_key=key, **fields)

    return make


@pytest.fixture
def make_bug(db):
    """`make_bug("OPS-1", whiteboard="p/n", ...)`: a manual bug by default."""

    def make(bug_id="OPS-1", tracker=Tracker.MANUAL, hours_ago=1.0, checks=(), groups=(),
             **fields):
        fields.setdefault("summary", f"Summary of {bug_id}")
        if hours_ago is not None:
            fields.setdefault("last_change_time", timezone.now() - timedelta(hours=hours_ago))
        bug = KnownBug.objects.create(tracker=tracker, bug_id=str(bug_id), **fields)
        bug.checks.set(checks)
        bug.error_groups.set(groups)
        return bug

    return make
