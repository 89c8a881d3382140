"""
The real servers the integration tests use, and what to do when one is missing.

Outside CI a missing PostgreSQL, MariaDB or Redis skips the tests that need it,
with the reason; with `CI` set it fails them, so that CI never passes by skipping.
"""

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require(name: str, host: str, port: int) -> None:
    """Skip (or fail, under CI) unless something answers on host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not answering on {host}:{port} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI needs it: start it (see .ci/run)")
        pytest.skip(f"{message}; start it to run this test")
