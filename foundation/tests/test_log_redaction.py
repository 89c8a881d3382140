"""
What the configured log handlers write holds no secret: resolved `${VAR}` values,
the settings' secrets, `?refresh=` and token-like query values, in the message,
its arguments, extra fields and tracebacks, whichever logger wrote the record.

The tests log through the handlers the settings configured, their output read
from a buffer swapped in for their stream.
"""

import io
import logging

import pytest

from foundation import log_redaction, placeholders
from foundation.log_redaction import RedactSecrets

RESOLVED = "resolved-secret-9f8e7d"
REFRESH = "refresh-secret-4c3b2a"


@pytest.fixture
def output():
    """What the root's configured handlers write during the test."""
    buffer = io.StringIO()
    handlers = logging.getLogger().handlers
    configured = [h for h in handlers if any(isinstance(f, RedactSecrets) for f in h.filters)]
    assert configured, "no configured handler redacts secrets"
    previous = [handler.setStream(buffer) for handler in configured]
    yield buffer.getvalue
    for handler, stream in zip(configured, previous):
        handler.setStream(stream)


@pytest.fixture
def resolved():
    placeholders.resolve("https://host/${T}", {"T": RESOLVED})
    return RESOLVED


def test_a_resolved_value_in_a_third_party_log_line_is_shown_as_its_placeholder(output, resolved):
    logging.getLogger("urllib3.connectionpool").warning("Retrying %s", f"/x/{resolved}/y")
    assert resolved not in output()
    assert "/x/${T}/y" in output()


def test_a_resolved_value_in_a_traceback_is_redacted(output, resolved):
    try:
        raise ValueError(f"could not fetch https://host/{resolved}")
    except ValueError:
        logging.getLogger("celery.app.trace").exception("Task failed")
    assert "Task failed" in output() and "ValueError" in output()
    assert resolved not in output()


def test_a_resolved_value_in_an_extra_field_is_redacted(output, resolved):
    logging.getLogger("django.request").error("Bad", extra={"request": object(), "url": resolved})
    assert "Bad" in output()
    assert resolved not in output()


def test_a_resolved_value_in_the_stack_is_redacted(output, resolved):
    logging.getLogger("any").error("With stack %s", resolved, stack_info=True)
    assert resolved not in output()


def test_a_short_resolved_value_is_not_masked_everywhere(output):
    placeholders.resolve("${FLAG}", {"FLAG": "true"})
    logging.getLogger("any").error("success is true")
    assert "success is true" in output()


@pytest.mark.parametrize("name, value, secret", [
    ("REFRESH_SECRET", REFRESH, REFRESH),
    ("SECRET_KEY", "django-key-0123456789", "django-key-0123456789"),
    ("SENTRY_DSN", "https://publickey1234@o1.ingest.sentry.io/5", "publickey1234"),
    ("WEBHOOK_URLS", ["https://hooks.example.com/services/T0/B0/hooksecret"], "/services/T0/B0/hooksecret"),
    ("REDIS_URL", "redis://:redispassword99@redis:6379/0", "redispassword99"),
    ("CELERY_BROKER_URL", "redis://[broken-url-secret", "redis://[broken-url-secret"),
])
def test_the_secrets_of_the_settings_are_redacted(output, settings, name, value, secret):
    setattr(settings, name, value)
    logging.getLogger("any").error("POST %s failed", secret)
    assert "failed" in output()
    assert secret not in output()


def test_the_database_password_is_redacted(output, monkeypatch):
    from django.conf import settings

    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", "db-password-55")
    logging.getLogger("django.db").error("could not connect with db-password-55")
    assert "db-password-55" not in output()


def test_refresh_and_token_like_query_values_are_masked(output):
    logging.getLogger("django.server").error('"GET /checks/a/b?refresh=guess-1234&api_token=abcdef123 HTTP/1.1" 503')
    assert "guess-1234" not in output() and "abcdef123" not in output()
    assert "refresh=***" in output()


def test_a_404_with_the_refresh_secret_logs_no_secret_on_django_request(client, db, output, settings):
    settings.REFRESH_SECRET = REFRESH
    response = client.get(f"/checks/web/nope?refresh={REFRESH}")
    assert response.status_code == 404
    assert "django.request" in output()  # Django logged the 404: the test can fail
    assert REFRESH not in output()


def test_every_handler_of_every_logger_redacts(settings):
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    unfiltered = [
        (logger.name, handler) for logger in loggers for handler in logger.handlers
        if not isinstance(handler, logging.NullHandler)  # writes nothing
        and not type(handler).__module__.startswith("_pytest")  # pytest's own capture
        and logger.name != "sentry_sdk.errors"  # writes only under init(debug=True): never set
        and not any(isinstance(f, RedactSecrets) for f in handler.filters)
    ]
    assert unfiltered == []


def test_a_record_that_cannot_be_redacted_is_logged_without_its_content(output, monkeypatch):
    def broken(text):
        raise RuntimeError("boom")

    monkeypatch.setattr(log_redaction, "redact_text", broken)
    logging.getLogger("any").error("secret %s", RESOLVED, extra={"x": RESOLVED})
    assert "log record withheld" in output()
    assert RESOLVED not in output()


def test_sentry_events_are_redacted(settings, resolved):
    settings.REFRESH_SECRET = REFRESH
    event = {"message": f"at /{resolved}", "request": {"query_string": f"refresh={REFRESH}"},
             "breadcrumbs": {"values": [{"message": resolved, "level": "info", "timestamp": 1.5}]}}
    sent = log_redaction.before_send(event, {})
    assert resolved not in str(sent) and REFRESH not in str(sent)
    assert sent["breadcrumbs"]["values"][0]["timestamp"] == 1.5
