"""
`${VAR}` in a service's request headers behaves exactly like `${VAR}` in a check's
parameters: resolved from the environment when used, `:-default` when unset, an
unset variable without default an error naming it (nothing sent), and resolved
values redacted from what is shown.

Black-box, through the contracts: config.toml imported with `import_config`, the
check run by `GET /checks/...`, the service scraped by `manage.py scrape` and read
back from Periskop's `GET /targets/`; a real server on 127.0.0.1 receives the
headers.
"""

import io

import pytest
import tomli_w
from django.core.management import call_command

SECRET = "s3cr3t-token-value"
PAYLOAD = {"aggregated_errors": [], "target_uuid": "5d8d8b8a-1f4c-4a37-9d2f-7f3c1c6a0e11"}

CASES = [
    # (environment, header as written, header received; None: an error, nothing sent)
    ({"API_TOKEN": SECRET}, "Bearer ${API_TOKEN}", f"Bearer {SECRET}"),
    ({}, "Bearer ${API_TOKEN:-anonymous}", "Bearer anonymous"),
    ({"API_TOKEN": SECRET}, "Bearer ${API_TOKEN:-anonymous}", f"Bearer {SECRET}"),
    ({"API_TOKEN": SECRET, "TEAM": "ops"}, "${TEAM}:${API_TOKEN}", f"ops:{SECRET}"),
    ({}, "Bearer ${API_TOKEN}", None),
    # Only ${...} is a placeholder: a bare $NAME is sent as written.
    ({"API_TOKEN": SECRET}, "Bearer $API_TOKEN", "Bearer $API_TOKEN"),
]


@pytest.fixture
def environment(monkeypatch):
    def set_to(variables: dict):
        for name in ("API_TOKEN", "TEAM"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_to


def import_config(tmp_path, upstream, header: str, errors_path: str = "/errors") -> None:
    target = f"127.0.0.1:{upstream.port}"
    config = {
        "checks": {"web": {"auth": {
            "module": "checks.core.headers",
            "params": {"urls": [upstream.url("/hb")], "request_headers": {"Authorization": header},
                       "response_headers": {}},
            "ttl": 0,
        }}},
        "errors": {"services": {
            "api": {"endpoint": errors_path, "request_headers": {"Authorization": header},
                    "static_configs": [{"targets": [target]}]},
            "plain": {"endpoint": "/plain", "static_configs": [{"targets": [target]}]},
        }},
    }
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(config))
    call_command("import_config", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def received(upstream, path: str) -> list[str]:
    """The Authorization header of each request `upstream` received on `path`."""
    return [
        {k.lower(): v for k, v in headers.items()}.get("authorization")
        for _, p, headers in upstream.requests if p == path
    ]


def scrape_targets(client) -> dict:
    call_command("scrape", stdout=io.StringIO(), stderr=io.StringIO())
    return {name: targets[0] for name, targets in client.get("/targets/").json().items()}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("variables, written, sent", CASES)
def test_a_service_header_resolves_like_a_check_parameter(
    client, tmp_path, upstream, environment, variables, written, sent
):
    environment(variables)
    upstream.route("/hb")
    upstream.route("/errors", json=PAYLOAD)
    upstream.route("/plain", json=PAYLOAD)
    import_config(tmp_path, upstream, written)

    check = client.get("/checks/web/auth").json()
    targets = scrape_targets(client)

    if sent is None:
        assert received(upstream, "/hb") == received(upstream, "/errors") == []
        assert "environment variable API_TOKEN is not set" in check["data"]
        assert targets["api"]["status"] == "down"
        assert "environment variable API_TOKEN is not set" in targets["api"]["last_error"]
    else:
        assert received(upstream, "/hb") == received(upstream, "/errors") == [sent]
        assert check["success"] is True
        assert (targets["api"]["status"], targets["api"]["last_error"]) == ("up", "")
    # Another service's targets are scraped whatever happens to this one.
    assert targets["plain"]["status"] == "up"


@pytest.mark.django_db(transaction=True)
def test_a_resolved_header_is_redacted_from_a_target_error(client, tmp_path, upstream, environment):
    environment({"API_TOKEN": SECRET})
    # An instance that echoes the header back, in a body of the wrong shape.
    upstream.route("/echo", json={"aggregated_errors": f"Bearer {SECRET}"})
    upstream.route("/hb")
    upstream.route("/plain", json=PAYLOAD)
    import_config(tmp_path, upstream, "Bearer ${API_TOKEN}", errors_path="/echo")

    error = scrape_targets(client)["api"]["last_error"]

    assert received(upstream, "/echo") == [f"Bearer {SECRET}"]
    assert SECRET not in error and "Bearer ${API_TOKEN}" in error, error


@pytest.mark.django_db
def test_import_warns_of_an_unset_variable_in_a_header_as_in_a_parameter(
    tmp_path, upstream, environment
):
    environment({})
    err = io.StringIO()
    config = tmp_path / "config.toml"
    import_config(tmp_path, upstream, "Bearer ${API_TOKEN}")
    call_command("import_config", str(config), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "warning: web/auth uses ${API_TOKEN}, which is not set here; "
        "it must be set where checks run.",
        "warning: service api uses ${API_TOKEN}, which is not set here; "
        "it must be set where services are scraped.",
    ]
