"""The `request.summary` log line: one per request, without secrets."""

import json
import logging

import pytest
from dockerflow.logging import MozlogFormatter

SECRET = "log-secret-3c2b1a"


@pytest.fixture
def summaries(caplog):
    """The `request.summary` records of the requests the test makes."""
    caplog.set_level(logging.INFO, logger="request.summary")

    def records():
        return [r for r in caplog.records if r.name == "request.summary"]

    return records


def test_each_request_logs_one_summary(client, db, summaries):
    client.get("/__lbheartbeat__", HTTP_USER_AGENT="probe/1.0", HTTP_ACCEPT_LANGUAGE="fr")
    [record] = summaries()
    assert record.code == 200
    assert record.method == "GET"
    assert record.path == "/__lbheartbeat__"
    assert record.agent == "probe/1.0"
    assert record.lang == "fr"
    assert isinstance(record.t, int)


def test_summary_uses_the_request_id_header(client, db, summaries):
    client.get("/__lbheartbeat__", HTTP_X_REQUEST_ID="req-1234")
    assert summaries()[0].rid == "req-1234"


def test_summary_makes_up_a_request_id_without_the_header(client, db, summaries):
    client.get("/__lbheartbeat__")
    client.get("/__lbheartbeat__")
    first, second = summaries()
    assert first.rid and second.rid and first.rid != second.rid


def test_summary_path_has_no_query_string(client, make_check, summaries):
    make_check("web", "e")
    client.get("/checks/web/e?limit=3&names=a&names=b")
    [record] = summaries()
    assert record.path == "/checks/web/e"
    assert record.querystring == {"limit": ["3"], "names": ["a", "b"]}


def test_summary_hides_the_refresh_secret(client, make_check, settings, summaries):
    settings.REFRESH_SECRET = SECRET
    make_check("web", "e")
    response = client.get(f"/checks/web/e?refresh={SECRET}&limit=2")
    assert response.status_code == 200
    [record] = summaries()
    assert record.path == "/checks/web/e"
    assert record.querystring == {"refresh": "[hidden]", "limit": ["2"]}
    assert SECRET not in json.dumps(record.__dict__, default=str)


def test_summary_hides_a_wrong_refresh_secret_too(client, make_check, settings, summaries):
    settings.REFRESH_SECRET = SECRET
    make_check("web", "e")
    guess = "guess-of-the-secret-77"
    assert client.get(f"/checks/web/e?refresh={guess}").status_code == 400
    [record] = summaries()
    assert record.code == 400
    assert record.querystring == {"refresh": "[hidden]"}
    assert guess not in json.dumps(record.__dict__, default=str)


def test_formatted_summary_line_has_no_secret(client, make_check, settings, summaries):
    settings.REFRESH_SECRET = SECRET
    make_check("web", "e")
    client.get(f"/checks/web/e?refresh={SECRET}")
    [record] = summaries()
    line = MozlogFormatter(logger_name="telescope").format(record)
    fields = json.loads(line)["Fields"]
    assert fields["path"] == "/checks/web/e"
    assert fields["code"] == 200
    assert SECRET not in line
