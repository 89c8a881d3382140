"""`manage.py audit`: Telescope's `check` command, with a real exit code."""

import io
import json
import logging
import os
import pty
import re
import subprocess
import sys

import pytest
from django.core.management import call_command

from audits.tests.checkmods import counter
from testing.processes import PROJECT_DIR, manage

# Several checks run in worker threads.
pytestmark = pytest.mark.django_db(transaction=True)

def audit(*args) -> tuple[int, str, str]:
    """Run the command; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", *args, stdout=out, stderr=err, no_color=True)
    return exit_info.value.code, out.getvalue(), err.getvalue()


def test_audit_exits_0_when_every_check_passes(make_check):
    make_check("web", "a")
    make_check("db", "b")
    code, _, _ = audit()
    assert code == 0


def test_audit_exits_1_when_a_check_fails(make_check):
    make_check("web", "a")
    make_check("web", "b", params={"url": "u", "ok": False})
    code, _, _ = audit()
    assert code == 1


def test_audit_exits_2_when_a_check_crashes(make_check):
    make_check("web", "a", params={"url": "u", "ok": False})
    make_check("web", "b", module="crash")
    code, _, _ = audit()
    assert code == 2


def test_audit_exits_2_for_an_unknown_project(make_check):
    make_check("web", "a", module="counter")
    code, out, err = audit("nope")
    assert code == 2
    assert "Unknown project nope" in err
    assert counter.calls() == []


def test_audit_exits_2_for_an_unknown_check(make_check):
    make_check("web", "a", module="counter")
    code, _, err = audit("web", "nope")
    assert code == 2
    assert "Unknown check web/nope" in err
    assert counter.calls() == []


def test_audit_exits_2_when_nothing_is_configured(db):
    code, _, _ = audit()
    assert code == 2


def test_audit_without_any_check_says_none_is_configured(db):
    _, _, err = audit()
    assert "None" not in err
    assert "no check" in err.lower()


def test_audit_force_exit_zero_exits_0_despite_a_failure(make_check):
    make_check("web", "a", params={"url": "u", "ok": False})
    code, _, _ = audit("--force-exit-zero")
    assert code == 0


def test_audit_force_exit_zero_exits_0_despite_a_crash(make_check):
    make_check("web", "a", module="crash")
    code, _, _ = audit("--force-exit-zero")
    assert code == 0


def test_audit_prints_description_and_json_data(make_check):
    make_check("web", "home", description="The home page answers",
               params={"url": "https://e.test", "limit": 2})
    code, out, _ = audit("web", "home")
    assert code == 0
    heading, rest = out.split("\n", 1)
    assert heading == "✓ web/home: The home page answers"
    data = json.loads(rest.split("\n\n")[0])
    assert data["url"] == "https://e.test" and data["limit"] == 2
    assert '\n  "limit": 2,' in rest  # indented JSON, as Telescope prints it


def test_audit_prints_every_selected_check_in_order(make_check):
    make_check("web", "a", description="first", position=0)
    make_check("db", "b", description="second", position=1)
    _, out, _ = audit()
    assert out.index("✓ web/a: first") < out.index("✓ db/b: second")


def test_audit_prints_the_error_of_a_crash(make_check):
    make_check("web", "boom", module="crash", params={"message": "no route"}, description="d")
    _, out, _ = audit("web", "boom")
    assert "! web/boom: d" in out
    assert '"RuntimeError: no route"' in out


def test_audit_of_a_project_runs_only_its_checks(make_check):
    make_check("web", "a", module="counter", params={"key": "web-a"})
    make_check("web", "b", module="counter", params={"key": "web-b"})
    make_check("db", "c", module="counter", params={"key": "db-c"})
    code, _, _ = audit("web")
    assert code == 0
    assert sorted(counter.calls()) == ["web-a", "web-b"]


def test_audit_skips_disabled_checks(make_check):
    make_check("web", "a", module="counter", params={"key": "on"})
    make_check("web", "b", module="counter", params={"key": "off"}, enabled=False)
    audit()
    assert counter.calls() == ["on"]


def test_audit_uses_a_cached_result(make_check):
    make_check("web", "a", module="counter", ttl=60)
    audit("web", "a")
    audit("web", "a")
    assert len(counter.calls()) == 1


def test_audit_force_reruns_a_cached_check(make_check):
    make_check("web", "a", module="counter", ttl=60)
    audit("web", "a")
    code, out, _ = audit("web", "a", "--force")
    assert code == 0
    assert len(counter.calls()) == 2
    assert "✓ web/a\n2\n" in out  # the second run's count


# --- the real process ---------------------------------------------------------------

CONFIG = """
[checks.good.up]
description = "Always up"
module = "audits.tests.checkmods.echo"
params.url = "http://example.com"

[checks.bad.down]
description = "Always down"
module = "audits.tests.checkmods.echo"
params.url = "http://example.com"
params.ok = false
"""


def test_audit_process_really_exits_with_the_failure_code(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "telescope_site.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "SENTRY_DSN": "",
    }
    migrated = manage(env, "migrate", "--noinput", timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    imported = manage(env, "import_config", str(config), timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert "2 created" in imported.stdout

    failing = manage(env, "audit", "bad", timeout=60)
    # Telescope's process always exited 0; a CI job must see the failure.
    assert failing.returncode == 1, failing.stderr
    assert "bad/down: Always down" in failing.stdout

    assert manage(env, "audit", "good", timeout=60).returncode == 0


def test_audit_ends_with_a_summary_of_outcomes(make_check):
    make_check("web", "a", params={"url": "u"})
    make_check("web", "b", params={"url": "u", "ok": False})
    make_check("web", "c", module="crash")
    _, out, _ = audit()
    assert re.search(r"^1 passed, 1 failed, 1 crashed in \d+\.\d s$", out.strip().splitlines()[-1])
    assert "✗ web/b" in out


def test_audit_json_prints_one_document_for_scripts(make_check):
    make_check("web", "a", params={"url": "u"})
    make_check("web", "b", params={"url": "u", "ok": False})
    code, out, _ = audit("--json")
    document = json.loads(out)
    assert code == 1
    assert [(r["name"], r["outcome"], r["success"]) for r in document["results"]] == [
        ("a", "passed", True), ("b", "failed", False)
    ]
    assert document["summary"]["passed"] == 1 and document["summary"]["failed"] == 1


def test_audit_keeps_log_lines_off_its_output_unless_verbose(make_check):
    make_check("web", "a", params={"url": "u"})
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("check.result")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO  # the suite keeps INFO quiet
    try:
        audit()
        quiet = len(records)
        audit("--force", "-v", "2")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert quiet == 0 and len(records) == 1
    assert logging.root.manager.disable == logging.NOTSET  # logging restored after the command


def _migrated_environment(tmp_path) -> dict:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "telescope_site.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "", "SENTRY_DSN": "", "NO_COLOR": "",
    }
    assert manage(env, "migrate", "--noinput", timeout=60).returncode == 0
    assert manage(env, "import_config", str(config), timeout=60).returncode == 0
    return env


def _in_a_terminal(env, *args) -> str:
    """What `manage.py audit` writes to a pseudo-terminal (stdout and stderr)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "audit", *args], cwd=PROJECT_DIR, env=env,
        stdin=terminal, stdout=terminal, stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(controller)
    return output.decode()


def test_audit_in_a_terminal_shows_markers_colours_progress_and_summary(tmp_path):
    env = _migrated_environment(tmp_path)
    output = _in_a_terminal(env)
    assert "2/2 checks done" in output
    assert "\x1b[" in output  # coloured
    assert "✓ good/up: Always up" in output and "✗ bad/down: Always down" in output
    assert re.search(r"1 passed, 1 failed, 0 crashed in \d+\.\d s", output)
    assert '"logger"' not in output and "check.result" not in output  # no log lines


def test_audit_in_a_terminal_has_no_colour_with_no_color(tmp_path):
    env = _migrated_environment(tmp_path)
    output = _in_a_terminal({**env, "NO_COLOR": "1"})
    assert "\x1b[" not in output
    assert "✓ good/up" in output and "✗ bad/down" in output


def test_audit_piped_has_markers_and_summary_without_colour_or_progress(tmp_path):
    env = _migrated_environment(tmp_path)
    piped = manage(env, "audit", timeout=60)
    assert piped.returncode == 1
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert "checks done" not in piped.stderr
    assert "✓ good/up" in piped.stdout and "✗ bad/down" in piped.stdout
    assert piped.stdout.strip().splitlines()[-1].startswith("1 passed, 1 failed, 0 crashed in ")


def test_audit_says_which_failing_check_is_blocked_by_a_failing_dependency(make_check):
    dns = make_check("infra", "dns", params={"url": "u", "ok": False})
    api = make_check("web", "api", params={"url": "u", "ok": False}, description="The API")
    api.depends_on.add(dns)

    _, out, _ = audit()
    code, document, _ = audit("--json", "--force")

    assert "✗ web/api: The API (blocked by infra/dns)" in out
    assert "✗ infra/dns\n" in out
    assert [r["blocked_by"] for r in json.loads(document)["results"]] == [None, "infra/dns"]
