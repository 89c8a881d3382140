"""Dockerflow endpoints, the diagram and the Prometheus metrics."""

import json
import stat

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from foundation import dockerflow

REQUEST_SUMMARY = "telescope_request_summary"
CHECK_ROUTE = "/checks/<str:project>/<str:name>"


@pytest.fixture(autouse=True)
def _fresh_curl_probe():
    """`_curl()` is computed once per process; each test sees its own settings."""
    dockerflow._curl.cache_clear()
    yield
    dockerflow._curl.cache_clear()


class BrokenCache:
    def set(self, *args, **kwargs):
        raise ConnectionError("redis is down")

    def get(self, *args, **kwargs):
        raise ConnectionError("redis is down")


class ForgetfulCache:
    def set(self, *args, **kwargs):
        pass

    def get(self, *args, **kwargs):
        return None


class BrokenConnection:
    def cursor(self):
        raise OSError("database is gone")


def _samples(text: str, name: str):
    """The samples of metric family `name` as (sample name, labels, value)."""
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return [(s.name, s.labels, s.value) for s in family.samples]
    return []


# --- /__lbheartbeat__ ---------------------------------------------------------------


def test_lbheartbeat_is_an_empty_object(client):
    response = client.get("/__lbheartbeat__")
    assert response.status_code == 200
    assert response.json() == {}


def test_lbheartbeat_answers_head(client):
    assert client.head("/__lbheartbeat__").status_code == 200


def test_lbheartbeat_refuses_post(client):
    assert client.post("/__lbheartbeat__").status_code == 405


# --- /__heartbeat__ -----------------------------------------------------------------


def test_heartbeat_reports_database_cache_curl_and_bugzilla(client, db):
    response = client.get("/__heartbeat__")
    assert response.status_code == 200
    report = response.json()
    # bugzilla: informational, from the last sync (bugtracker/tests/test_api.py).
    assert set(report) == {"database", "cache", "curl", "bugzilla"}
    assert report["database"] == "ok"
    assert report["cache"] == "ok"
    assert report["curl"] == "ok" or report["curl"].startswith("missing features")


def test_heartbeat_answers_head(client, db):
    assert client.head("/__heartbeat__").status_code == 200


def test_heartbeat_refuses_post(client, db):
    assert client.post("/__heartbeat__").status_code == 405


def test_heartbeat_is_503_when_the_cache_raises(client, db, monkeypatch):
    monkeypatch.setattr(dockerflow, "cache", BrokenCache())
    response = client.get("/__heartbeat__")
    assert response.status_code == 503
    report = response.json()
    assert report["cache"].startswith("cache failing")
    assert "ConnectionError" in report["cache"]
    assert report["database"] == "ok"


def test_heartbeat_is_503_when_the_cache_loses_what_it_stored(client, db, monkeypatch):
    monkeypatch.setattr(dockerflow, "cache", ForgetfulCache())
    response = client.get("/__heartbeat__")
    assert response.status_code == 503
    assert response.json()["cache"] == "cache failing"


def test_heartbeat_is_503_when_the_database_fails(client, db, monkeypatch):
    monkeypatch.setattr(dockerflow, "connection", BrokenConnection())
    response = client.get("/__heartbeat__")
    assert response.status_code == 503
    report = response.json()
    assert report["database"] == "database failing: OSError"
    assert report["cache"] == "ok"


def test_heartbeat_reports_missing_curl_but_stays_200(client, db, settings):
    settings.CURL_BINARY_PATH = "/nonexistent/curl"
    response = client.get("/__heartbeat__")
    assert response.status_code == 200
    assert response.json()["curl"].startswith("curl unavailable at /nonexistent/curl")


def test_heartbeat_reports_missing_curl_features_but_stays_200(
    client, db, settings, tmp_path
):
    fake_curl = tmp_path / "curl"
    fake_curl.write_text(
        "#!/bin/sh\necho 'curl 8.0.0'\necho 'Features: alt-svc AsynchDNS SSL'\n"
    )
    fake_curl.chmod(fake_curl.stat().st_mode | stat.S_IEXEC)
    settings.CURL_BINARY_PATH = str(fake_curl)
    response = client.get("/__heartbeat__")
    assert response.status_code == 200
    assert response.json()["curl"] == "missing features HTTP2, HTTP3"


def test_heartbeat_reports_ok_for_a_curl_with_every_feature(client, db, settings, tmp_path):
    fake_curl = tmp_path / "curl"
    fake_curl.write_text("#!/bin/sh\necho 'Features: HTTP2 HTTP3 SSL'\n")
    fake_curl.chmod(fake_curl.stat().st_mode | stat.S_IEXEC)
    settings.CURL_BINARY_PATH = str(fake_curl)
    assert client.get("/__heartbeat__").json()["curl"] == "ok"


def test_heartbeat_reports_a_failing_curl_but_stays_200(client, db, settings, tmp_path):
    fake_curl = tmp_path / "curl"
    fake_curl.write_text("#!/bin/sh\nexit 3\n")
    fake_curl.chmod(fake_curl.stat().st_mode | stat.S_IEXEC)
    settings.CURL_BINARY_PATH = str(fake_curl)
    response = client.get("/__heartbeat__")
    assert response.status_code == 200
    assert response.json()["curl"].startswith("curl unavailable")


# --- /__version__ -------------------------------------------------------------------


def test_version_serves_the_version_file(client, settings, tmp_path):
    document = {
        "source": "https://github.com/example/telescope",
        "version": "1.2.3",
        "commit": "0123abcd",
        "build": "https://ci.example/42",
    }
    version_file = tmp_path / "version.json"
    version_file.write_text(json.dumps(document))
    settings.VERSION_FILE = str(version_file)
    response = client.get("/__version__")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == document


def test_version_is_404_with_an_explanation_when_the_file_is_missing(
    client, settings, tmp_path
):
    settings.VERSION_FILE = str(tmp_path / "missing.json")
    response = client.get("/__version__")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "VERSION_FILE" in detail and "missing.json" in detail


def test_version_is_500_when_the_file_is_not_json(client, settings, tmp_path):
    version_file = tmp_path / "version.json"
    version_file.write_text("version: 1.2.3")
    settings.VERSION_FILE = str(version_file)
    response = client.get("/__version__")
    assert response.status_code == 500
    assert "VERSION_FILE" in response.json()["detail"]


# --- /diagram.svg -------------------------------------------------------------------


def test_diagram_serves_the_svg_file(client, settings, tmp_path):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect id="web--home"/></svg>'
    diagram = tmp_path / "diagram.svg"
    diagram.write_bytes(svg)
    settings.DIAGRAM_FILE = str(diagram)
    response = client.get("/diagram.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"".join(response.streaming_content) == svg


def test_diagram_is_404_when_the_file_is_missing(client, settings, tmp_path):
    settings.DIAGRAM_FILE = str(tmp_path / "none.svg")
    response = client.get("/diagram.svg")
    assert response.status_code == 404
    assert "DIAGRAM_FILE" in response.json()["detail"]


def test_diagram_is_404_when_the_path_is_a_directory(client, settings, tmp_path):
    settings.DIAGRAM_FILE = str(tmp_path)
    assert client.get("/diagram.svg").status_code == 404


# --- /__metrics__ -------------------------------------------------------------------


def test_metrics_are_prometheus_text(client, db):
    response = client.get("/__metrics__")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "# TYPE telescope_request_summary_total counter" in response.content.decode()


def test_metrics_label_requests_by_route_pattern_not_by_url(client, make_check):
    make_check("metricsweb", "metricshome")
    client.get("/checks/metricsweb/metricshome")
    text = client.get("/__metrics__").content.decode()
    samples = _samples(text, REQUEST_SUMMARY)
    assert any(
        name == "telescope_request_summary_total"
        and labels == {"method": "GET", "endpoint": CHECK_ROUTE, "status": "200"}
        and value >= 1
        for name, labels, value in samples
    )
    endpoints = {labels["endpoint"] for _, labels, _ in samples}
    assert not any("metricsweb" in e or "metricshome" in e for e in endpoints)
    assert "/checks/metricsweb/metricshome" not in text


def test_metrics_label_unknown_urls_as_unmatched(client, db):
    client.get("/no/such/page/6f1c2")
    text = client.get("/__metrics__").content.decode()
    endpoints = {labels["endpoint"] for _, labels, _ in _samples(text, REQUEST_SUMMARY)}
    assert "unmatched" in endpoints
    assert "6f1c2" not in text


def test_metrics_never_contain_the_refresh_secret(client, make_check, settings):
    settings.REFRESH_SECRET = "metrics-secret-9d8e7f"
    make_check("web", "home")
    assert client.get("/checks/web/home?refresh=metrics-secret-9d8e7f").status_code == 200
    assert client.get("/checks/web/home?refresh=wrong-guess-5a4b").status_code == 400
    text = client.get("/__metrics__").content.decode()
    assert "metrics-secret-9d8e7f" not in text
    assert "wrong-guess-5a4b" not in text
    assert "refresh=" not in text


def test_metrics_have_the_request_duration_histogram(client, db):
    client.get("/__lbheartbeat__")
    text = client.get("/__metrics__").content.decode()
    samples = _samples(text, "telescope_request_duration_seconds")
    assert any(
        name == "telescope_request_duration_seconds_count"
        and labels == {"method": "GET", "endpoint": "/__lbheartbeat__"}
        for name, labels, _ in samples
    )


def test_metrics_last_success_gauge_of_a_check_that_ran(client, make_check):
    make_check("gaugeproj", "passing")
    make_check("gaugeproj", "failing", params={"url": "u", "ok": False})
    client.get("/checks/gaugeproj/passing")
    client.get("/checks/gaugeproj/failing")
    text = client.get("/__metrics__").content.decode()
    gauges = {
        labels["check"]: value
        for _, labels, value in _samples(text, "telescope_check_last_success")
        if labels["project"] == "gaugeproj"
    }
    assert gauges == {"passing": 1.0, "failing": 0.0}


def test_metrics_count_check_runs_by_outcome(client, make_check):
    make_check("runsproj", "boom", module="crash")
    client.get("/checks/runsproj/boom")
    text = client.get("/__metrics__").content.decode()
    assert any(
        labels == {"project": "runsproj", "check": "boom", "outcome": "crash"} and value >= 1
        for name, labels, value in _samples(text, "telescope_check_runs")
        if name == "telescope_check_runs_total"
    )


def test_metrics_label_the_root_as_slash_not_unmatched(client, db):
    client.get("/")
    text = client.get("/__metrics__").content.decode()
    samples = _samples(text, REQUEST_SUMMARY)
    assert any(labels["endpoint"] == "/" and labels["method"] == "GET" for _, labels, _ in samples)
