"""`GET /`: who the service is, and the settings Telescope's UI reads."""

import runpy
from pathlib import Path

import environ

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "telescope_site" / "settings.py"


def _settings_from_env(monkeypatch) -> dict:
    """The settings module evaluated afresh with the current environment (a local
    `.env` is not read, so that it cannot leak into the test process)."""
    monkeypatch.setattr(environ.Env, "read_env", classmethod(lambda cls, *a, **k: None))
    return runpy.run_path(str(SETTINGS_FILE))
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_root_says_hello_with_service_and_environment(client, settings):
    settings.SERVICE_NAME = "probe"
    settings.SERVICE_TITLE = "Probe Station"
    settings.ENV_NAME = "stage"
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["hello"] == "telescope"
    assert body["service"] == "probe"
    assert body["title"] == "Probe Station"
    assert body["environment"] == "stage"


def test_root_title_defaults_to_capitalised_service_name(client):
    # The test settings leave SERVICE_TITLE unset: "telescope" -> "Telescope".
    assert client.get("/").json()["title"] == "Telescope"


def test_settings_title_is_service_name_capitalised_when_service_title_is_empty(
    monkeypatch,
):
    monkeypatch.setenv("SERVICE_NAME", "skywatch")
    monkeypatch.setenv("SERVICE_TITLE", "")
    assert _settings_from_env(monkeypatch)["SERVICE_TITLE"] == "Skywatch"


def test_settings_title_is_service_title_when_set(monkeypatch):
    monkeypatch.setenv("SERVICE_NAME", "skywatch")
    monkeypatch.setenv("SERVICE_TITLE", "Sky Watch")
    assert _settings_from_env(monkeypatch)["SERVICE_TITLE"] == "Sky Watch"


def test_root_lists_the_settings_the_ui_reads(client, settings):
    settings.LIMIT_REQUEST_CONCURRENCY = 17
    settings.LIMIT_GLOBAL_CONCURRENCY = 5
    settings.REQUESTS_MAX_RETRIES = 3
    settings.REQUESTS_TIMEOUT_SECONDS = 4.5
    settings.CACHE_LOCK_ENABLED = False
    body = client.get("/").json()
    assert body["settings"] == {
        "cache": "LocMemCache",
        "cache_lock_enabled": False,
        "limit_requests_concurrency": 17,
        "limit_global_concurrency": 5,
        "request_max_retries": 3,
        "request_timeout_seconds": 4.5,
        "client_parallel_requests": 17,
    }


def test_root_client_parallel_requests_follows_limit_request_concurrency(client, settings):
    settings.LIMIT_REQUEST_CONCURRENCY = 3
    assert client.get("/").json()["settings"]["client_parallel_requests"] == 3


def test_root_from_a_browser_redirects_to_the_dashboard(client):
    response = client.get("/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_root_with_accept_text_html_only_redirects_to_the_dashboard(client):
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_root_with_json_accept_is_not_redirected(client):
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["hello"] == "telescope"


def test_root_answers_head(client):
    response = client.head("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b""


def test_root_refuses_post(client):
    assert client.post("/").status_code == 405
