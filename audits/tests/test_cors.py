"""CORS, as Telescope: any origin may read the API by default (CORS_ORIGINS)."""

import runpy
from pathlib import Path

import environ
import pytest

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "telescope_site" / "settings.py"


def _settings_from_env(monkeypatch) -> dict:
    """The settings module evaluated afresh with the current environment (a local
    `.env` is not read, so that it cannot leak into the test process)."""
    monkeypatch.setattr(environ.Env, "read_env", classmethod(lambda cls, *a, **k: None))
    return runpy.run_path(str(SETTINGS_FILE))
ORIGIN = "https://dashboard.example.net"


def test_checks_allow_any_origin_by_default(client, db):
    response = client.get("/checks", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "path", ["/", "/checks/web/home", "/checks/web", "/__heartbeat__", "/__version__"]
)
def test_api_and_dockerflow_routes_allow_any_origin(client, make_check, path):
    make_check("web", "home")
    response = client.get(path, HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == "*"


def test_request_without_origin_gets_no_cors_header(client, db):
    assert "Access-Control-Allow-Origin" not in client.get("/checks")


def test_preflight_is_answered(client, db):
    response = client.options(
        "/checks/web/home",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="accept",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert "accept" in response["Access-Control-Allow-Headers"].lower()


def test_admin_is_not_opened_to_other_origins(client, db):
    response = client.get("/admin/login/", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


def test_configured_origins_only_are_allowed(client, db, settings):
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ["https://ok.example"]
    allowed = client.get("/checks", HTTP_ORIGIN="https://ok.example")
    refused = client.get("/checks", HTTP_ORIGIN="https://evil.example")
    assert allowed["Access-Control-Allow-Origin"] == "https://ok.example"
    assert "Access-Control-Allow-Origin" not in refused


def test_cors_origins_variable_sets_the_allowed_origins(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example,https://b.example")
    values = _settings_from_env(monkeypatch)
    assert values["CORS_ALLOW_ALL_ORIGINS"] is False
    assert values["CORS_ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_cors_origin_variable_of_the_readme_is_read_too(monkeypatch):
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    monkeypatch.setenv("CORS_ORIGIN", "https://a.example")
    values = _settings_from_env(monkeypatch)
    assert values["CORS_ALLOW_ALL_ORIGINS"] is False
    assert values["CORS_ALLOWED_ORIGINS"] == ["https://a.example"]


def test_cors_default_is_any_origin(monkeypatch):
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    monkeypatch.delenv("CORS_ORIGIN", raising=False)
    values = _settings_from_env(monkeypatch)
    assert values["CORS_ALLOW_ALL_ORIGINS"] is True
