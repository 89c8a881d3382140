"""The production settings pass Django's deployment checks."""

import os
import secrets
import subprocess
import sys


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "telescope_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_fractional_refresh_dispatch_is_refused_with_a_clear_error():
    env = {**os.environ, "DEBUG": "true", "REFRESH_DISPATCH_SECONDS": "0.5"}
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode != 0
    assert "REFRESH_DISPATCH_SECONDS must be a whole number of seconds, 1 or more, not 0.5" in completed.stderr
