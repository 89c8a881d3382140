"""A restart of this service counts nothing twice: the counts live in the database."""

import os
import subprocess
import sys

from django.conf import settings as django_settings

from errors.tests.periskop_instance import PeriskopInstance


def manage(*args, env):
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_each_scrape_in_a_new_process_counts_only_new_errors(tmp_path):
    database = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "telescope_site.test_settings",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    cwd = os.getcwd()
    os.chdir(django_settings.BASE_DIR)
    try:
        with PeriskopInstance() as instance:
            instance.report(ValueError("boom"), times=3)
            config = tmp_path / "config.toml"
            config.write_text(
                f'[errors.services.api]\nstatic_configs = [{{ targets = ["{instance.address}"] }}]\n'
            )
            manage("migrate", "-v0", env=env)
            manage("import_config", str(config), env=env)
            assert "3 new errors" in manage("scrape", env=env)
            assert "0 new errors" in manage("scrape", env=env)  # a new process
            instance.report(ValueError("boom"), times=2)
            assert "2 new errors" in manage("scrape", "api", env=env)
    finally:
        os.chdir(cwd)
