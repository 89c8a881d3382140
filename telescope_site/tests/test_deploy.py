"""The production settings pass Django's deployment checks, and so does the key the
embedded mode generates for itself."""

import os
import secrets
import subprocess
import sys

import pytest

from testing.processes import service_environment

# The distributed mode as docker-compose.yml configures it; `check --deploy`
# connects to neither server.
DISTRIBUTED = {
    "DATABASE_URL": "postgres://telescope:telescope@127.0.0.1:5432/telescope",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _environment(**variables) -> dict:
    return service_environment(DJANGO_SETTINGS_MODULE="telescope_site.settings", **variables)


def _check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("mode", ["PostgreSQL and Redis", "Redis only", "PostgreSQL only"])
def test_production_settings_pass_check_deploy(mode):
    servers = {
        "PostgreSQL and Redis": DISTRIBUTED,
        "Redis only": {"REDIS_URL": DISTRIBUTED["REDIS_URL"]},
        "PostgreSQL only": {"DATABASE_URL": DISTRIBUTED["DATABASE_URL"]},
    }[mode]
    env = _environment(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50), **servers)
    completed = _check_deploy(env)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_embedded_mode_without_a_key_passes_the_secret_key_check(tmp_path):
    """The generated key is long and random: no security.W009. (Its cookies are not
    HTTPS-only, which check --deploy rightly reports, unless set so.)"""
    env = _environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DATA_DIR=str(tmp_path / "data"),
        SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="true",
    )
    completed = _check_deploy(env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (tmp_path / "data" / "secret_key").exists()


def test_fractional_refresh_dispatch_is_refused_with_a_clear_error():
    env = {**os.environ, "DEBUG": "true", "REFRESH_DISPATCH_SECONDS": "0.5"}
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode != 0
    assert "REFRESH_DISPATCH_SECONDS must be a whole number of seconds, 1 or more, not 0.5" in completed.stderr
