"""Parsing and validating the payloads of the real Periskop clients."""

import copy
import dataclasses
import json
from datetime import UTC, datetime

import pytest
from periskop_client.collector import ExceptionCollector
from periskop_client.exporter import ExceptionExporter
from periskop_client.models import HTTPContext

from errors import payload as payload_module
from errors.payload import PayloadError, parse


def python_client_document(collector: ExceptionCollector) -> dict:
    """What the Python client serves, decoded as the scraper decodes it."""
    return json.loads(ExceptionExporter(collector).export())


def report(collector, exception, *, cause=None, context=None):
    # The client reads the traceback of the exception being handled.
    try:
        if cause is None:
            raise exception
        try:
            raise cause
        except Exception as inner:
            raise exception from inner
    except Exception:
        if context is None:
            collector.report(exception)
        else:
            collector.report_with_context(exception, context)


def minimal(**aggregate) -> dict:
    """A valid document with one aggregate, overridden by `aggregate`."""
    base = {
        "aggregation_key": "ValueError@1a2b3c4d",
        "total_count": 1,
        "severity": "error",
        "latest_errors": [occurrence()],
    }
    return {"aggregated_errors": [base | aggregate]}


def occurrence(**fields) -> dict:
    base = {
        "error": {"class": "ValueError", "message": "bad", "stacktrace": ["line 1"], "cause": None},
        "uuid": "5d9893c6-51d6-11ea-8aad-f894c260afe5",
        "timestamp": "2020-02-17T22:42:45Z",
        "severity": "error",
        "http_context": None,
    }
    return base | fields


def with_error(**error) -> dict:
    return minimal(latest_errors=[occurrence(error=occurrence()["error"] | error)])


def only_occurrence(document: dict):
    return parse(document).aggregated_errors[0].latest_errors[0]


# --- the Python client, for real ------------------------------------------------------


def test_parses_what_the_python_client_exports():
    collector = ExceptionCollector()
    for _ in range(3):
        report(collector, ValueError("bad value"))
    report(collector, KeyError("user"), cause=ConnectionError("database down"))
    context = HTTPContext("POST", "http://app/users?id=1", {"Accept": "*/*"}, '{"name": "x"}')
    report(collector, RuntimeError("in a request"), context=context)
    report(collector, RuntimeError("no headers"), context=HTTPContext("GET", "http://app/"))
    document = python_client_document(collector)

    payload = parse(document)

    assert payload.target_uuid == document["target_uuid"]
    by_class = {a.aggregation_key.split("@")[0] + ":" + a.latest_errors[0].error.message: a
                for a in payload.aggregated_errors}
    assert len(payload.aggregated_errors) == 4
    values = by_class["ValueError:bad value"]
    assert values.total_count == 3
    assert values.severity == "error"
    assert len(values.latest_errors) == 3
    assert len({o.uuid for o in values.latest_errors}) == 3
    first = values.latest_errors[0]
    assert first.error.error_class == "ValueError"
    assert first.error.stacktrace[0] == "Traceback (most recent call last):"
    assert first.error.stacktrace[-1] == "ValueError: bad value"
    assert first.http_context is None
    # Millisecond timestamps with Z become aware UTC datetimes.
    assert first.timestamp.tzinfo is UTC
    # The client stamps the first occurrence, then creates its aggregate: created_at
    # may come a millisecond after the first sample's timestamp.
    assert abs((values.created_at - first.timestamp).total_seconds()) < 1


def test_python_client_chained_exception_keeps_the_chain_in_the_stack_trace_only():
    collector = ExceptionCollector()
    report(collector, KeyError("user"), cause=ConnectionError("database down"))

    error = parse(python_client_document(collector)).aggregated_errors[0].latest_errors[0].error

    # The Python client writes cause: null; the chain is only in the traceback text.
    assert error.cause is None
    assert error.message == "'user'"
    assert "ConnectionError: database down" in error.stacktrace
    assert "The above exception was the direct cause of the following exception:" in error.stacktrace


def test_python_client_http_context_with_null_headers_and_body():
    collector = ExceptionCollector()
    report(collector, RuntimeError("no headers"), context=HTTPContext("GET", "http://app/"))
    report(collector, RuntimeError("full"), context=HTTPContext("PUT", "http://app/x", {"X-A": "1"}, "body"))
    contexts = {
        a.latest_errors[0].error.message: a.latest_errors[0].http_context
        for a in parse(python_client_document(collector)).aggregated_errors
    }

    assert contexts["no headers"] == payload_module.HttpContext("GET", "http://app/", {}, "")
    assert contexts["full"] == payload_module.HttpContext("PUT", "http://app/x", {"X-A": "1"}, "body")


def test_python_client_keeps_ten_samples_and_counts_all():
    collector = ExceptionCollector()
    for _ in range(12):
        report(collector, ValueError("again"))

    aggregate = parse(python_client_document(collector)).aggregated_errors[0]

    assert aggregate.total_count == 12
    assert len(aggregate.latest_errors) == 10


def test_python_client_report_outside_an_except_block():
    # The client then records the traceback of "no exception": still valid.
    collector = ExceptionCollector()
    collector.report(ValueError("not raised"))

    error = parse(python_client_document(collector)).aggregated_errors[0].latest_errors[0].error

    assert error.stacktrace == ["NoneType: None"]


def test_empty_python_client_payload():
    collector = ExceptionCollector()

    payload = parse(python_client_document(collector))

    assert payload.aggregated_errors == []
    assert payload.target_uuid


# --- the other clients' shapes ---------------------------------------------------------

GO_PAYLOAD = {
    "aggregated_errors": [
        {
            "aggregation_key": "*errors.errorString@811c9dc5",
            "total_count": 7,
            "severity": "",
            "created_at": "0001-01-01T00:00:00Z",
            "latest_errors": [
                {
                    "error": {
                        "class": "*fmt.wrapError",
                        "message": "handler: query: connection refused",
                        "stacktrace": ["main.handler()", "\t/app/main.go:42 +0x1d"],
                        "cause": {
                            "class": "*fmt.wrapError",
                            "message": "query: connection refused",
                            "stacktrace": ["db.Query()"],
                            "cause": {
                                "class": "*net.OpError",
                                "message": "connection refused",
                                "stacktrace": None,
                                "cause": None,
                            },
                        },
                    },
                    "uuid": "8f3c2a2e-1b7a-4cc3-9d53-0e7d3f3a9a10",
                    "timestamp": "2020-02-17T22:42:45.123456789Z",
                    "severity": "",
                    "http_context": {
                        "request_method": "GET",
                        "request_url": "http://example.com/users",
                        "request_headers": {"Cache-Control": "no-cache"},
                    },
                }
            ],
        }
    ]
}


def test_go_client_payload():
    payload = parse(GO_PAYLOAD)

    assert payload.target_uuid is None  # older Go clients send none
    aggregate = payload.aggregated_errors[0]
    assert aggregate.severity == "error"  # empty severity
    assert aggregate.created_at is None  # Go's zero time
    assert aggregate.total_count == 7
    sample = aggregate.latest_errors[0]
    assert sample.severity == "error"
    assert sample.timestamp == datetime(2020, 2, 17, 22, 42, 45, 123456, tzinfo=UTC)
    chain, cause = [], sample.error
    while cause is not None:
        chain.append((cause.error_class, cause.message, cause.stacktrace))
        cause = cause.cause
    assert chain == [
        ("*fmt.wrapError", "handler: query: connection refused", ["main.handler()", "\t/app/main.go:42 +0x1d"]),
        ("*fmt.wrapError", "query: connection refused", ["db.Query()"]),
        ("*net.OpError", "connection refused", []),
    ]
    assert sample.http_context == payload_module.HttpContext(
        "GET", "http://example.com/users", {"Cache-Control": "no-cache"}, ""
    )


def test_go_nil_slices_are_empty_lists():
    payload = parse({"aggregated_errors": [{"aggregation_key": "k", "total_count": 0, "latest_errors": None}]})

    assert payload.aggregated_errors[0].latest_errors == []
    assert parse({"aggregated_errors": None}).aggregated_errors == []


def test_scala_client_payload():
    document = {
        "aggregated_errors": [
            {
                "aggregation_key": "java.lang.IllegalStateException@1f2e3d4c",
                "total_count": 2,
                "severity": "warning",
                "created_at": "2021-03-04T10:00:00.000+02:00",
                "latest_errors": [
                    {
                        "error": {
                            "class": "java.lang.IllegalStateException",
                            "message": None,  # a Throwable without message
                            "stacktrace": ["com.example.Main.run(Main.scala:10)"],
                            "cause": None,
                        },
                        "severity": "warning",
                        "uuid": "2b1b9a5e-6f0e-4c49-8f4b-0f1f9c7d3a11",
                        "timestamp": "2021-03-04T10:00:01.500+02:00",
                        "http_context": None,
                    },
                    {
                        "error": {"message": "a reported message, no throwable"},
                        "severity": "info",
                        "uuid": "7e57d004-2b97-4d77-9c4c-0c4c5e6f7a12",
                        "timestamp": "2021-03-04T10:00:02.000Z",
                        "http_context": None,
                    },
                ],
            }
        ],
        "target_uuid": "0c6f8b6e-1d9a-4a1f-8c0e-5a4d3c2b1a00",
    }

    aggregate = parse(document).aggregated_errors[0]

    assert aggregate.created_at == datetime(2021, 3, 4, 8, 0, tzinfo=UTC)
    throwable, message_only = aggregate.latest_errors
    assert throwable.error.message == ""
    assert throwable.timestamp == datetime(2021, 3, 4, 8, 0, 1, 500000, tzinfo=UTC)
    assert message_only.error == payload_module.ErrorInfo("", "a reported message, no throwable", [], None)
    assert message_only.severity == "info"


def test_ruby_client_payload():
    document = {
        "aggregated_errors": [
            {
                "aggregation_key": "RuntimeError@0a1b2c3d",
                "total_count": 1,
                "severity": "error",
                "latest_errors": [
                    {
                        "error": {
                            "class": "RuntimeError",
                            "message": "outer",
                            "stacktrace": ["app.rb:3:in `call'"],
                            "cause": "inner message",  # Ruby's to_json of an exception
                        },
                        "http_context": "#<Periskop::Client::HTTPContext:0x000055d5>",
                        "severity": "error",
                        "uuid": "a3c1e2f4-0b5d-4e6f-8a9b-1c2d3e4f5a6b",
                        "timestamp": "2022-05-06T07:08:09Z",
                    }
                ],
            }
        ],
        "target_uuid": "c0ffee00-0000-4000-8000-000000000001",
    }

    aggregate = parse(document).aggregated_errors[0]

    assert aggregate.created_at is None
    sample = aggregate.latest_errors[0]
    assert sample.error.cause == payload_module.ErrorInfo("", "inner message", [], None)
    assert sample.http_context is None
    assert sample.timestamp == datetime(2022, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_periskop_api_shape_with_epoch_seconds():
    document = minimal(created_at=1581979365, latest_errors=[occurrence(timestamp=1581979366)])

    aggregate = parse(document).aggregated_errors[0]

    assert aggregate.created_at == datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)
    assert aggregate.latest_errors[0].timestamp == datetime(2020, 2, 17, 22, 42, 46, tzinfo=UTC)


# --- defaults and leniency ------------------------------------------------------------


@pytest.mark.parametrize(
    "created_at",
    [None, "", 0, 0.0, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1970-01-01T00:00:00Z"],
)
def test_unset_created_at_is_none(created_at):
    assert parse(minimal(created_at=created_at)).aggregated_errors[0].created_at is None


def test_absent_created_at_is_none():
    assert parse(minimal()).aggregated_errors[0].created_at is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2020-02-17T22:42:45Z", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        ("2020-02-17T22:42:45.5Z", datetime(2020, 2, 17, 22, 42, 45, 500000, tzinfo=UTC)),
        ("2020-02-17T22:42:45.123Z", datetime(2020, 2, 17, 22, 42, 45, 123000, tzinfo=UTC)),
        ("2020-02-17T22:42:45.123456789Z", datetime(2020, 2, 17, 22, 42, 45, 123456, tzinfo=UTC)),
        ("2020-02-17T23:42:45+01:00", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        ("2020-02-17T20:12:45-02:30", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        ("2020-02-17t22:42:45z", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        ("2020-02-17 22:42:45", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),  # no zone: UTC
        ("2020-02-17T22:42:45 Z", datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        ("2020-02-17T23:42:45,5+0100", datetime(2020, 2, 17, 22, 42, 45, 500000, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # a leap second
        ("0001-01-01T00:00:00+01:00", None),  # Go's zero time east of UTC: unset, as epoch 0
        (1581979365, datetime(2020, 2, 17, 22, 42, 45, tzinfo=UTC)),
        (1581979365.25, datetime(2020, 2, 17, 22, 42, 45, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps(text, expected):
    if expected is None:
        assert only_occurrence(minimal(created_at=text)).timestamp is not None
        assert parse(minimal(created_at=text)).aggregated_errors[0].created_at is None
        return
    timestamp = only_occurrence(minimal(latest_errors=[occurrence(timestamp=text)])).timestamp

    assert timestamp == expected
    assert timestamp.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("severity", ["", None])
def test_empty_or_null_severity_is_error(severity):
    aggregate = parse(minimal(severity=severity)).aggregated_errors[0]

    assert aggregate.severity == "error"


def test_absent_severity_is_error():
    document = minimal()
    del document["aggregated_errors"][0]["severity"]
    del document["aggregated_errors"][0]["latest_errors"][0]["severity"]

    aggregate = parse(document).aggregated_errors[0]

    assert aggregate.severity == "error"
    assert aggregate.latest_errors[0].severity == "error"


def test_occurrence_without_severity_takes_its_aggregate_s():
    document = minimal(severity="warning", latest_errors=[occurrence(severity="")])

    assert only_occurrence(document).severity == "warning"


def test_severity_is_lower_cased_and_bounded():
    aggregate = parse(minimal(severity=" WARNING ")).aggregated_errors[0]
    assert aggregate.severity == "warning"

    long = parse(minimal(severity="x" * 100)).aggregated_errors[0]
    assert long.severity == "x" * payload_module.MAX_SEVERITY_LENGTH


def test_stacktrace_as_one_string_is_split_into_lines():
    error = only_occurrence(with_error(stacktrace="Traceback:\n  File a\nValueError: x")).error

    assert error.stacktrace == ["Traceback:", "  File a", "ValueError: x"]


def test_null_class_message_and_stacktrace_are_empty():
    error = only_occurrence(with_error(**{"class": None, "message": None, "stacktrace": None})).error

    assert error == payload_module.ErrorInfo("", "", [], None)


def test_http_context_null_parts():
    context = {"request_method": "GET", "request_url": "/x", "request_headers": None, "request_body": None}

    parsed = only_occurrence(minimal(latest_errors=[occurrence(http_context=context)])).http_context

    assert parsed == payload_module.HttpContext("GET", "/x", {}, "")


def test_http_context_lenient_values():
    context = {
        "request_method": "POST",
        "request_url": "/x",
        "request_headers": {"Content-Length": 12, "Accept": ["a", "b"], "X-Null": None},
        "request_body": {"decoded": True},
    }

    parsed = only_occurrence(minimal(latest_errors=[occurrence(http_context=context)])).http_context

    assert parsed.request_headers == {"Content-Length": "12", "Accept": "a, b", "X-Null": ""}
    assert json.loads(parsed.request_body) == {"decoded": True}


def test_unknown_keys_are_ignored():
    document = minimal(future_field={"x": 1}, latest_errors=[occurrence(fingerprint="abc")])
    document["schema_version"] = 2
    document["aggregated_errors"][0]["latest_errors"][0]["error"]["frames"] = []

    assert parse(document).aggregated_errors[0].total_count == 1


def test_target_uuid_absent_empty_or_not_a_string_is_none():
    assert parse(minimal()).target_uuid is None
    assert parse(minimal() | {"target_uuid": ""}).target_uuid is None
    assert parse(minimal() | {"target_uuid": 12}).target_uuid is None
    assert parse(minimal() | {"target_uuid": "abc"}).target_uuid == "abc"


def test_integral_float_count_is_accepted():
    assert parse(minimal(total_count=3.0)).aggregated_errors[0].total_count == 3


def test_results_are_immutable():
    payload = parse(minimal())

    with pytest.raises(dataclasses.FrozenInstanceError):
        payload.aggregated_errors[0].total_count = 2  # type: ignore[misc]


# --- uuids ------------------------------------------------------------------------------


def test_missing_uuid_is_derived_from_the_content_and_stable():
    entry = occurrence()
    del entry["uuid"]
    document = minimal(latest_errors=[entry])

    first = only_occurrence(document).uuid
    # Same content, keys in another order, and another scrape: the same uuid.
    reordered = json.loads(json.dumps(document, sort_keys=True))
    assert only_occurrence(reordered).uuid == first
    assert only_occurrence(copy.deepcopy(document)).uuid == first
    assert len(first) == 36


@pytest.mark.parametrize("uuid", [None, ""])
def test_null_or_empty_uuid_is_derived_too(uuid):
    assert only_occurrence(minimal(latest_errors=[occurrence(uuid=uuid)])).uuid


def test_derived_uuids_differ_with_the_content():
    def derived(**fields):
        return only_occurrence(minimal(latest_errors=[occurrence(uuid=None, **fields)])).uuid

    assert derived() != derived(timestamp="2020-02-17T22:42:46Z")
    assert derived() != derived(error=occurrence()["error"] | {"message": "other"})
    other_key = minimal(aggregation_key="other@1", latest_errors=[occurrence(uuid=None)])
    assert derived() != only_occurrence(other_key).uuid


def test_overlong_uuid_is_replaced_by_a_stable_short_one():
    document = minimal(latest_errors=[occurrence(uuid="x" * 1000)])

    value = only_occurrence(document).uuid

    assert len(value) == 36
    assert only_occurrence(copy.deepcopy(document)).uuid == value


# --- the wrong shape ---------------------------------------------------------------------


def entry_with(**fields):
    return minimal(latest_errors=[occurrence(), occurrence(**fields)])


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "payload: expected an object, got a list of 0"),
        ("text", "payload: expected an object, got 'text'"),
        (None, "payload: expected an object, got null"),
        ({}, "aggregated_errors: missing"),
        ({"aggregated_errors": {}}, "aggregated_errors: expected a list, got an object"),
        ({"aggregated_errors": [3]}, "aggregated_errors[0]: expected an object, got 3"),
        (
            minimal(total_count="x"),
            "aggregated_errors[0].total_count: expected a non-negative integer, got 'x'",
        ),
        (minimal(total_count=-1), "aggregated_errors[0].total_count: expected a non-negative integer, got -1"),
        (minimal(total_count=1.5), "aggregated_errors[0].total_count: expected a non-negative integer, got 1.5"),
        (minimal(total_count=True), "aggregated_errors[0].total_count: expected a non-negative integer, got true"),
        (minimal(total_count=None), "aggregated_errors[0].total_count: expected a non-negative integer, got null"),
        (minimal(total_count=2**63), "aggregated_errors[0].total_count: expected a non-negative integer, got 9223372036854775808"),
        (minimal(aggregation_key=""), "aggregated_errors[0].aggregation_key: expected a non-empty string, got ''"),
        (minimal(aggregation_key="  "), "aggregated_errors[0].aggregation_key: expected a non-empty string, got '  '"),
        (minimal(aggregation_key=12), "aggregated_errors[0].aggregation_key: expected a non-empty string, got 12"),
        (minimal(severity=3), "aggregated_errors[0].severity: expected a string, got 3"),
        (minimal(latest_errors={}), "aggregated_errors[0].latest_errors: expected a list, got an object"),
        (minimal(latest_errors=[occurrence(), 3]), "aggregated_errors[0].latest_errors[1]: expected an object, got 3"),
        (minimal(created_at="soon"), "aggregated_errors[0].created_at: expected an RFC 3339 date-time, got 'soon'"),
        (minimal(created_at=[]), "aggregated_errors[0].created_at: expected an RFC 3339 date-time or epoch seconds, got a list of 0"),
        (entry_with(timestamp="yesterday"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got 'yesterday'"),
        (entry_with(timestamp="2020-02-30T00:00:00Z"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got '2020-02-30T00:00:00Z' (day is out of range for month)"),
        # ISO 8601 forms that are not RFC 3339 (Python's fromisoformat reads them)
        (entry_with(timestamp="2020-02-17T22:42:45+01"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got '2020-02-17T22:42:45+01'"),
        (entry_with(timestamp="2020-02-17T22:42:45+01:00:30"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got '2020-02-17T22:42:45+01:00:30'"),
        (entry_with(timestamp="2020-02-17T22:42:45.Z"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got '2020-02-17T22:42:45.Z'"),
        (entry_with(timestamp="2020-02-17"), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time, got '2020-02-17'"),
        (entry_with(timestamp="9999-12-31T23:59:59-01:00"), "aggregated_errors[0].latest_errors[1].timestamp: expected a date-time before year 10000, got '9999-12-31T23:59:59-01:00'"),
        (entry_with(timestamp=-5), "aggregated_errors[0].latest_errors[1].timestamp: expected epoch seconds between 0 and year 9999, got -5"),
        (entry_with(timestamp=0), "aggregated_errors[0].latest_errors[1].timestamp: expected a date-time, got an unset one"),
        (entry_with(timestamp=None), "aggregated_errors[0].latest_errors[1].timestamp: expected an RFC 3339 date-time or epoch seconds, got null"),
        (entry_with(error=None), "aggregated_errors[0].latest_errors[1].error: expected an object, got null"),
        (entry_with(error="boom"), "aggregated_errors[0].latest_errors[1].error: expected an object, got 'boom'"),
        (entry_with(uuid=12), "aggregated_errors[0].latest_errors[1].uuid: expected a string, got 12"),
        (entry_with(http_context=5), "aggregated_errors[0].latest_errors[1].http_context: expected an object, got 5"),
        (
            entry_with(http_context={"request_method": "GET", "request_url": "/", "request_headers": ["a"]}),
            "aggregated_errors[0].latest_errors[1].http_context.request_headers: expected an object, got a list of 1",
        ),
        (
            entry_with(http_context={"request_method": {}, "request_url": "/"}),
            "aggregated_errors[0].latest_errors[1].http_context.request_method: expected a string, got an object",
        ),
        (with_error(stacktrace=["ok", 3]), "aggregated_errors[0].latest_errors[0].error.stacktrace[1]: expected a string, got 3"),
        (with_error(stacktrace=3), "aggregated_errors[0].latest_errors[0].error.stacktrace: expected a list, got 3"),
        (with_error(message={"text": "x"}), "aggregated_errors[0].latest_errors[0].error.message: expected a string, got an object"),
        (with_error(cause=[1]), "aggregated_errors[0].latest_errors[0].error.cause: expected an object, got a list of 1"),
        (
            with_error(cause={"class": "A", "cause": {"class": ["B"]}}),
            "aggregated_errors[0].latest_errors[0].error.cause.cause.class: expected a string, got a list of 1",
        ),
    ],
)
def test_wrong_shape_names_the_field(document, message):
    with pytest.raises(PayloadError) as caught:
        parse(document)

    assert str(caught.value) == message


@pytest.mark.parametrize("field", ["aggregation_key", "total_count"])
def test_missing_aggregate_fields_are_named(field):
    document = minimal()
    del document["aggregated_errors"][0][field]

    with pytest.raises(PayloadError) as caught:
        parse(document)

    assert str(caught.value) == f"aggregated_errors[0].{field}: missing"


@pytest.mark.parametrize("field", ["timestamp", "error"])
def test_missing_occurrence_fields_are_named(field):
    entry = occurrence()
    del entry[field]

    with pytest.raises(PayloadError) as caught:
        parse(minimal(latest_errors=[entry]))

    assert str(caught.value) == f"aggregated_errors[0].latest_errors[0].{field}: missing"


def test_duplicate_aggregation_keys_are_refused():
    document = {"aggregated_errors": [minimal()["aggregated_errors"][0]] * 2}

    with pytest.raises(PayloadError) as caught:
        parse(document)

    assert str(caught.value) == "aggregated_errors[1].aggregation_key: duplicate of aggregated_errors[0]"


def test_payload_error_is_a_value_error_with_path_and_problem():
    with pytest.raises(ValueError) as caught:
        parse(minimal(total_count=-1))

    assert caught.value.path == "aggregated_errors[0].total_count"
    assert caught.value.problem == "expected a non-negative integer, got -1"


# --- size caps --------------------------------------------------------------------------


def test_long_message_is_truncated_with_a_marker():
    message = "é" * 100_000  # 200 000 bytes of UTF-8

    parsed = only_occurrence(with_error(message=message)).error.message

    kept, marker = parsed.split("…", 1)
    assert kept == "é" * (payload_module.MAX_MESSAGE_BYTES // 2)
    assert marker == " [truncated by telescope: 200000 bytes in all]"


def test_message_at_the_limit_is_kept_whole():
    message = "x" * payload_module.MAX_MESSAGE_BYTES

    assert only_occurrence(with_error(message=message)).error.message == message


def test_long_stacktrace_keeps_its_top_and_bottom():
    lines = [f"frame {i}" for i in range(2000)]

    stacktrace = only_occurrence(with_error(stacktrace=lines)).error.stacktrace

    assert len(stacktrace) == payload_module.MAX_STACKTRACE_LINES
    assert stacktrace[:250] == lines[:250]
    assert stacktrace[250] == "… [1501 lines omitted by telescope] …"
    assert stacktrace[251:] == lines[-249:]


def test_long_stack_line_is_truncated():
    line = "x" * 10_000

    (parsed,) = only_occurrence(with_error(stacktrace=[line])).error.stacktrace

    assert parsed.startswith("x" * payload_module.MAX_LINE_BYTES + "…")


def test_a_stack_line_of_exactly_the_limit_is_kept_whole_and_one_more_byte_is_cut():
    limit = payload_module.MAX_LINE_BYTES
    kept, cut = only_occurrence(with_error(stacktrace=["x" * limit, "y" * (limit + 1)])).error.stacktrace

    assert kept == "x" * limit
    assert cut.startswith("y" * limit + "…")


def test_one_unsafe_stack_line_is_sanitised_and_the_others_kept_as_they_are():
    lines = ["Traceback (most recent call last):", "  File \"a.py\", line 1", "bad\x00line", "é"]

    parsed = only_occurrence(with_error(stacktrace=lines)).error.stacktrace

    assert parsed == ["Traceback (most recent call last):", "  File \"a.py\", line 1", "bad\ufffdline", "é"]


def test_long_header_value_is_truncated_and_the_others_kept():
    headers = {"X-Long": "v" * 10_000, "Accept": "*/*"}
    context = {"request_method": "GET", "request_url": "/", "request_headers": headers}

    parsed = only_occurrence(minimal(latest_errors=[occurrence(http_context=context)])).http_context

    assert parsed.request_headers["Accept"] == "*/*"
    assert parsed.request_headers["X-Long"].startswith("v" * payload_module.MAX_HEADER_BYTES + "…")


def test_deep_cause_chain_is_cut():
    cause = None
    for level in range(40):
        cause = {"class": f"E{level}", "message": "m", "stacktrace": [], "cause": cause}

    error = only_occurrence(with_error(cause=cause)).error

    depth = 0
    while error.cause is not None:
        error, depth = error.cause, depth + 1
    assert depth == payload_module.MAX_CAUSE_DEPTH


def test_too_many_samples_keep_the_newest_in_order():
    entries = [
        occurrence(uuid=f"u{i}", timestamp=1_600_000_000 + (i * 7919) % 150) for i in range(150)
    ]

    kept = parse(minimal(latest_errors=entries)).aggregated_errors[0].latest_errors

    assert len(kept) == payload_module.MAX_OCCURRENCES_PER_KEY
    newest = sorted(entries, key=lambda e: e["timestamp"])[-100:]
    assert {o.uuid for o in kept} == {e["uuid"] for e in newest}
    positions = [int(o.uuid[1:]) for o in kept]
    assert positions == sorted(positions)  # the client's order


def test_too_many_headers_are_cut():
    headers = {f"X-{i}": "v" for i in range(150)}
    context = {"request_method": "GET", "request_url": "/", "request_headers": headers}

    parsed = only_occurrence(minimal(latest_errors=[occurrence(http_context=context)])).http_context

    assert len(parsed.request_headers) == payload_module.MAX_HEADERS


def test_counts_are_never_capped():
    document = {
        "aggregated_errors": [
            {"aggregation_key": f"k{i}", "total_count": 2**40, "latest_errors": []} for i in range(5000)
        ]
    }

    payload = parse(document)

    assert len(payload.aggregated_errors) == 5000
    assert sum(a.total_count for a in payload.aggregated_errors) == 5000 * 2**40
