"""
What the service's log lines say: `LOG_FORMAT=text` prints each record's fields
(key=value), and a failing check's 503 is no `django.request` ERROR line (a server
error still is).
"""

import logging

import pytest
import requests

from audits import answers
from foundation.log_format import TextFormatter
from testing.processes import manage, runserver, service_environment
from testing.upstream import Upstream

CONFIG = """
[checks.web.down]
description = "Answers 503"
module = "checks.core.heartbeat"
params.url = "{base}/down"

[checks.web.up]
description = "Answers 200"
module = "checks.core.heartbeat"
params.url = "{base}/up"
"""


def test_text_lines_carry_the_fields_as_key_value():
    record = logging.LogRecord("check.result", logging.INFO, __file__, 1, "", (), None)
    record.__dict__.update(
        project="web", check="home", success=False, plot=None, tags=["a", "b"],
        data='{"status": "down"}', agent="curl/8.0",
    )

    line = TextFormatter().format(record)

    assert line.endswith(
        'INFO check.result project=web check=home success=false plot=null tags=["a","b"] '
        'data="{\\"status\\": \\"down\\"}" agent=curl/8.0'
    )


def test_a_traceback_comes_after_the_fields():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.code = 500

    first, *rest = TextFormatter().format(record).splitlines()

    assert first.endswith("ERROR x failed code=500")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real server (LOG_FORMAT=text) whose checks fetch a real upstream: web/down
    answers 503, web/up 200."""
    upstream = Upstream().start()
    upstream.route("/down", status=503, json={"status": "down"})
    upstream.route("/up", json={"status": "ok"})
    folder = tmp_path_factory.mktemp("log-format")
    (folder / "config.toml").write_text(CONFIG.format(base=upstream.url("")))
    env = service_environment(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}", DATA_DIR=str(folder),
        LOG_FORMAT="text", BUGTRACKER_URL="", PYTHONUNBUFFERED="1",
    )
    for args in (["migrate", "--noinput"], ["import_config", str(folder / "config.toml")]):
        done = manage(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    server = runserver(env, folder / "server.log")
    try:
        server.wait_until_serving()
        for _ in range(3):
            assert requests.get(server.url("/checks/web/down"), timeout=30).status_code == 503
        assert requests.get(server.url("/checks/web/up"), timeout=30).status_code == 200
    finally:
        server.stop()
        upstream.stop()
    return server.log()


def test_text_log_of_a_real_server_prints_the_request_summary_and_check_result_fields(served):
    summaries = [line for line in served.splitlines() if " INFO request.summary " in line]
    results = [line for line in served.splitlines() if " INFO check.result " in line]

    assert any("code=503" in line and "path=/checks/web/down" in line and "method=GET" in line
               for line in summaries), served
    assert any("project=web check=down" in line and "success=false" in line for line in results)
    assert not any(line.endswith(("request.summary ", "check.result ")) for line in served.splitlines())


def test_a_failing_check_writes_no_django_request_error_line(served):
    assert "django.request" not in served
    assert " ERROR " not in served.replace("ERROR check.state", "")  # its alert is an ERROR


def test_a_real_server_error_is_still_logged_by_django_request(client, db, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    from audits.models import Check
    Check.objects.create(project="web", name="home", module="checks.core.heartbeat",
                         params={"url": "http://127.0.0.1:1/"})
    monkeypatch.setattr(answers, "result", broken)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert client.get("/checks/web/home").status_code == 500

    assert [r.levelname for r in caplog.records if r.name == "django.request"] == ["ERROR"]


def test_a_failing_check_answered_in_process_logs_no_django_request_line(client, db, upstream, caplog):
    from audits.models import Check
    Check.objects.create(project="web", name="down", module="checks.core.heartbeat",
                         params={"url": upstream.route("/down", status=503, json={})})

    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/checks/web/down").status_code == 503

    assert [r for r in caplog.records if r.name == "django.request"] == []
