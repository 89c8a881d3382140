"""
DATABASE_URL works with the three stores users keep data in: SQLite (the rest of
the suite), PostgreSQL and MariaDB/MySQL. The tests that touch the database most
(import, export, the API, names the database must refuse in words, NUL in URLs,
pushes, concurrent scrape merges, stored samples, Periskop's stored answers)
run again in a subprocess against each real server.
"""

import os
import subprocess
import sys

import pytest

from testing import services

SUBSET = [
    "audits/tests/test_import_config.py",
    "audits/tests/test_checks_list.py",
    "audits/tests/test_project_checks.py",
    "audits/tests/test_config_validation.py",
    "foundation/tests/test_nul_in_urls.py",
    "foundation/tests/test_bulk_updates.py",
    "errors/tests/test_push.py",
    "errors/tests/test_scrape_scale.py",
    "errors/tests/test_periskop_answers.py",
    "errors/tests/test_sample_storage.py",
]


@pytest.mark.parametrize(
    "name, url, port",
    [("PostgreSQL", services.POSTGRES_URL, 5432), ("MariaDB", services.MYSQL_URL, 3306)],
)
def test_database_backend_passes_the_database_tests(name, url, port):
    services.require(name, "127.0.0.1", port)
    paths = [p for p in SUBSET if os.path.exists(p)]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, (
        f"the database tests fail on {name} ({url}):\n{completed.stdout[-4000:]}"
    )
    assert " passed" in completed.stdout
