"""
`audits.answers` in the distributed mode (no worker needed here): what it can
answer without queueing a run, it answers, and stores as the run it was.
"""

import pytest

from audits import answers
from audits.models import CheckRun


@pytest.fixture
def distributed(monkeypatch):
    """Requests as the distributed mode serves them: runs belong to the workers."""
    queued = []
    monkeypatch.setattr(answers, "runs_here", lambda task: False)
    monkeypatch.setattr(answers, "enqueue", lambda task, *args, **kwargs: queued.append(args))
    return queued


def test_a_check_that_cannot_run_is_a_stored_crash_and_queues_nothing(
    client, make_check, distributed, monkeypatch
):
    monkeypatch.delenv("NEVER_SET_TOKEN", raising=False)
    make_check("web", "unset", params={"url": "http://h/${NEVER_SET_TOKEN}"})
    response = client.get("/checks/web/unset")
    assert response.status_code == 500
    assert "NEVER_SET_TOKEN" in response.json()["data"]
    run = CheckRun.objects.get(audit_check__name="unset")
    assert (run.success, run.crashed) == (False, True)
    assert distributed == []
