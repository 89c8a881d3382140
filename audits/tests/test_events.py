"""State-change events: a log line, a Sentry message, a POST to each webhook."""

import gzip
import json
import logging
from dataclasses import replace

import pytest
import sentry_sdk

import checks.config

from audits import events, states
from audits.runner import Result
from testing.waiting import wait_until

FAILED = Result("2026-11-21T10:00:00+00:00", False, {"error": "down"}, 12, ran=True)


def fail(check):
    """The check's state moved to failing, and its event emitted, as a run does."""
    change = states.update(check, FAILED)
    assert change == states.FAILING
    return events.emit(check, change, FAILED)


@pytest.mark.django_db
def test_event_is_logged_as_json_fields(make_check, caplog):
    check = make_check()
    with caplog.at_level(logging.INFO, logger="check.state"):
        events.emit(check, states.FAILING, FAILED)
    (record,) = [r for r in caplog.records if r.name == "check.state"]
    assert record.getMessage() == "proj/check is failing"
    assert (record.levelno, record.state, record.data) == (logging.ERROR, "failing", {"error": "down"})


@pytest.mark.django_db
def test_recovery_is_logged_as_info(make_check, caplog):
    with caplog.at_level(logging.INFO, logger="check.state"):
        events.emit(make_check(), states.RECOVERED, FAILED)
    (record,) = [r for r in caplog.records if r.name == "check.state"]
    assert (record.getMessage(), record.levelno) == ("proj/check recovered", logging.INFO)


@pytest.mark.django_db(transaction=True)
def test_each_webhook_receives_the_event(make_check, upstream, settings):
    settings.WEBHOOK_URLS = [upstream.route("/hook-a"), upstream.route("/hook-b")]
    fail(make_check())
    wait_until(lambda: upstream.hits("/hook-a") == 1 and upstream.hits("/hook-b") == 1)
    method, _, headers = upstream.requests[0]
    assert method == "POST" and headers["Content-Type"] == "application/json"


@pytest.mark.django_db(transaction=True)
def test_failing_webhook_is_retried(make_check, upstream, settings, monkeypatch):
    monkeypatch.setattr(events.send_webhook, "retry_backoff", False)
    monkeypatch.setattr(events.send_webhook, "default_retry_delay", 0)
    settings.WEBHOOK_URLS = [upstream.route("/hook", status=502)]
    fail(make_check())
    wait_until(lambda: upstream.hits("/hook") >= 2)


def test_a_webhook_post_is_sent_once_and_its_failure_logged_without_secrets(upstream, caplog, monkeypatch):
    # The client retries a GET on 503, never a POST: a webhook is not idempotent.
    monkeypatch.setattr(checks.config, "current", replace(checks.config.current, max_retries=2))
    url = upstream.route("/hook", status=503, body="busy") + "?token=s3cr3t-hook"
    with caplog.at_level(logging.ERROR, logger="check.state"):
        events._post_once(url, {"message": "proj/check is failing"})
    assert upstream.hits("/hook") == 1
    assert caplog.messages == [f"Webhook failed: POST {upstream.url('/hook')}?token=*** failed: HTTP 503: busy"]


@pytest.mark.django_db
def test_sentry_receives_a_fingerprinted_message(make_check, upstream, settings):
    upstream.route("/api/1/envelope/", json={"id": "x"})
    settings.SENTRY_DSN = f"http://public@127.0.0.1:{upstream.port}/1"
    sentry_sdk.init(dsn=settings.SENTRY_DSN, default_integrations=False)
    try:
        fail(make_check())
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init()  # back to no Sentry for the other tests
    wait_until(lambda: upstream.hits("/api/1/envelope/") == 1)
    body = gzip.decompress(upstream.bodies["/api/1/envelope/"][0]).decode()
    event = json.loads(body.splitlines()[-1])
    assert event["message"] == "proj/check is failing"
    assert (event["level"], event["fingerprint"]) == ("error", ["proj/check"])
    assert event["tags"]["source"] == "check"


@pytest.mark.django_db
def test_no_sentry_dsn_sends_nothing(make_check, upstream, settings):
    settings.SENTRY_DSN = ""
    events.emit(make_check(), states.FAILING, FAILED)
    assert upstream.requests == []
