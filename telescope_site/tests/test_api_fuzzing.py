"""
schemathesis against the whole API, as a real server on PostgreSQL answers it:
generated requests, valid and not, to every operation of `/api/schema/`; no answer
may be a 500, and every answer must be one the schema declares (status, content
type, body).

Bounded on purpose: a fixed seed and a few examples per operation, so that it
takes about a minute and finds the same thing on every run; run `st run` by hand
with more examples to dig deeper.
"""

import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from testing.processes import manage, runserver, service_environment
from testing.services import POSTGRES_URL, require

SEED = "20261201"
EXAMPLES_PER_OPERATION = "10"
CHECKS = (
    "not_a_server_error,status_code_conformance,"
    "content_type_conformance,response_schema_conformance"
)


@pytest.fixture
def postgres_url():
    """A private, migrated PostgreSQL database, dropped afterwards."""
    parts = urlsplit(POSTGRES_URL)
    require("PostgreSQL", parts.hostname, parts.port or 5432)
    name = f"telescope_fuzz_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_generated_requests_get_no_500_and_only_declared_answers(postgres_url, tmp_path):
    env = service_environment(
        DATABASE_URL=postgres_url, SECRET_KEY="fuzzing-only-not-a-secret",
        SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false",
        DATA_DIR=str(tmp_path), BUGTRACKER_URL="",
        # Generated requests come fast from one address: not a crowd to hold back.
        ERRORS_ANONYMOUS_RATE="100000/second",
    )
    migrate = manage(env, "migrate", "--noinput", timeout=300)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    server = runserver(env, tmp_path / "server.log")
    try:
        server.wait_until_serving()
        fuzz = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run", server.url("/api/schema/"),
             "--checks", CHECKS, "--max-examples", EXAMPLES_PER_OPERATION, "--seed", SEED,
             "--request-timeout", "10", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )
    finally:
        server.stop()
    assert fuzz.returncode == 0, fuzz.stdout[-8000:] + fuzz.stderr[-2000:]
