"""
A check's resolved `${VAR}` never shows in the output of the processes that run
it: not in `manage.py audit`'s, not in the web server's, whatever logs it.

The checks fetch a real server on 127.0.0.1 that answers 503, so that urllib3
retries and logs each retry (at DEBUG) with the URL it resolved, in the check
process. One secret is in a `?token=` query, one in the path, where nothing
but the registry of resolved values can recognise it.
"""


import pytest
import requests

from testing.processes import manage, runserver, service_environment
from testing.upstream import Upstream

QUERY_SECRET = "s3cr3t-T0ken-in-the-query-5e1f"
PATH_SECRET = "s3cr3t-path-segment-77ab0c"

CONFIG = """
[checks.web.plain]
description = "No secret"
module = "checks.core.heartbeat"
params.url = "{base}/ok"

[checks.web.token]
description = "A token in the query"
module = "checks.core.heartbeat"
params.url = "{base}/health?token=${{HEALTH_TOKEN}}"

[checks.web.path]
description = "A secret in the path"
module = "checks.core.heartbeat"
params.url = "{base}/status/${{STATUS_PATH}}/health"
"""


@pytest.fixture(scope="module")
def failing_upstream():
    server = Upstream().start()
    server.route("/ok", json={"ok": True})
    server.route("/health", status=503, body="down")
    server.route(f"/status/{PATH_SECRET}/health", status=503, body="down")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def environment(tmp_path_factory, failing_upstream) -> dict:
    """The service's environment, its database migrated and the checks imported,
    logging everything (urllib3's retries are DEBUG lines)."""
    folder = tmp_path_factory.mktemp("secrets-in-logs")
    (folder / "config.toml").write_text(CONFIG.format(base=failing_upstream.url("")))
    env = service_environment(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}", DATA_DIR=str(folder),
        HEALTH_TOKEN=QUERY_SECRET, STATUS_PATH=PATH_SECRET, LOG_LEVEL="DEBUG",
        REQUESTS_MAX_RETRIES="2", BUGTRACKER_URL="", PYTHONUNBUFFERED="1",
    )
    for args in (["migrate", "--noinput"], ["import_config", str(folder / "config.toml")]):
        done = manage(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    return env


def _assert_no_secret(output: str) -> None:
    assert "Incremented Retry" in output, "urllib3 logged no retry: the test proves nothing"
    assert QUERY_SECRET not in output
    assert PATH_SECRET not in output


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_audit_output_shows_no_resolved_secret_of_a_retried_request(environment, log_format):
    done = manage({**environment, "LOG_FORMAT": log_format}, "audit", "web", "-v", "2")  # logs shown
    assert done.returncode == 1, done.stderr  # the 503s fail the checks
    _assert_no_secret(done.stdout + done.stderr)
    assert "${STATUS_PATH}" in done.stdout + done.stderr  # shown as its placeholder


def test_web_server_log_shows_no_resolved_secret_of_a_retried_request(environment, tmp_path):
    server = runserver(environment, tmp_path / "server.log")
    try:
        server.wait_until_serving()
        # The first run starts a check process, before the secrets are resolved:
        # the later runs are handed them.
        assert requests.get(server.url("/checks/web/plain"), timeout=30).status_code == 200
        for name in ("token", "path"):
            assert requests.get(server.url(f"/checks/web/{name}"), timeout=30).status_code == 503
    finally:
        server.stop()
    _assert_no_secret(server.log())
