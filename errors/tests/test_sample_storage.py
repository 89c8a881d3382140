"""
Samples are stored whole, whichever way the database takes them (one JSON document
on PostgreSQL, `bulk_create` elsewhere): this module runs on the three stores
(`audits/tests/test_databases.py`).
"""

import json
from datetime import UTC, datetime

import pytest

from errors import aggregation, payload
from errors.models import Occurrence, Service

pytestmark = pytest.mark.django_db

SAMPLE = {
    "uuid": "5d5a8e9e-0000-4000-8000-000000000001",
    "timestamp": "2026-12-01T10:00:00.123456Z",
    "severity": "Warning",
    "error": {
        "class": "KeyError",
        "message": "naïve 'quote' \"double\" \\ back\\slash \ud800 — ☃",
        "stacktrace": ["Traceback:", "  File \"ü.py\", line 1", "KeyError: 'x'"],
        "cause": {"class": "OSError", "message": "disk", "stacktrace": ["os"], "cause": None},
    },
    "http_context": {
        "request_method": "POST", "request_url": "https://api.example.com/x?y=1",
        "request_headers": {"Accept": "*/*", "X-Emoji": "😀"}, "request_body": "{\"a\": 1}",
    },
}


def merge(*samples):
    document = {"aggregated_errors": [
        {"aggregation_key": "KeyError@1", "total_count": len(samples), "latest_errors": list(samples)}
    ]}
    service = Service.objects.create(name="api")
    return aggregation.ingest(service, payload.parse(document), "http://a:1/errors")


def test_a_sample_is_stored_whole():
    merge(SAMPLE)

    stored = Occurrence.objects.get()
    assert (stored.uuid, stored.timestamp, stored.severity, stored.error_class) == (
        SAMPLE["uuid"], datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC), "warning", "KeyError",
    )
    assert stored.message == "naïve 'quote' \"double\" \\ back\\slash \ufffd — ☃"
    assert stored.stacktrace == SAMPLE["error"]["stacktrace"]
    assert stored.cause == [{"class": "OSError", "message": "disk", "stacktrace": ["os"]}]
    assert stored.http_context == SAMPLE["http_context"]


def test_a_sample_without_cause_nor_context_stores_nulls():
    merge({**SAMPLE, "http_context": None, "error": {**SAMPLE["error"], "cause": None}})

    stored = Occurrence.objects.get()
    assert (stored.cause, stored.http_context) == (None, None)


def test_samples_are_inserted_in_as_many_documents_as_their_size_needs(monkeypatch):
    monkeypatch.setattr(aggregation, "SAMPLES_DOCUMENT_BYTES", 1)  # one sample a document
    samples = [{**SAMPLE, "uuid": f"u{i}", "timestamp": 1_800_000_000 + i} for i in range(5)]

    result = merge(*samples)

    assert result.new_occurrences == 5
    assert sorted(Occurrence.objects.values_list("uuid", flat=True)) == [f"u{i}" for i in range(5)]


def test_documents_split_the_rows_under_the_size_and_keep_them_all(monkeypatch):
    monkeypatch.setattr(aggregation, "SAMPLES_DOCUMENT_BYTES", 300)
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [{"uuid": f"u{i}", "timestamp": moment, "message": "m" * 100} for i in range(7)]

    documents = list(aggregation._documents(rows))

    assert len(documents) > 1
    assert all(len(d) <= 300 for d in documents)
    assert [r["uuid"] for d in documents for r in json.loads(d)] == [f"u{i}" for i in range(7)]
