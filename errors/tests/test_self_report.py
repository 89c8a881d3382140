"""This service's own unhandled exceptions, at /errors, in Periskop's format."""

import pytest
from django.test import Client

from errors import payload
from errors.periskop import self_report


def broken_view(request):
    raise RuntimeError("self-inflicted")




@pytest.mark.urls("errors.tests.self_report_urls")
def test_unhandled_exception_is_exported_and_parses_as_a_payload(db):
    self_report._aggregates.clear()
    client = Client(raise_request_exception=False)
    for _ in range(2):
        assert client.get("/broken").status_code == 500
    document = client.get("/errors").json()
    parsed = payload.parse(document)
    (aggregate,) = parsed.aggregated_errors
    assert aggregate.aggregation_key.startswith("RuntimeError@")
    assert aggregate.total_count == 2
    assert aggregate.latest_errors[0].error.message == "self-inflicted"
    assert parsed.target_uuid == self_report.TARGET_UUID
