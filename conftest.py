"""Fixtures shared by every test: real servers on 127.0.0.1 and a clean cache."""

import pytest
from django.core.cache import cache

from foundation import background
from testing.upstream import Upstream


@pytest.fixture
def upstream():
    """A real HTTP server on 127.0.0.1; see `testing/upstream.py`."""
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture
def other_host():
    """Another real server, for redirects to another host: `upstream` is
    reached as 127.0.0.1, this one as localhost (`other_host.localhost_url()`)."""
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Results cached by one test must not answer another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_retry_outlives_its_test():
    """An embedded retry waits on a timer (foundation.background): one left by a test
    would run during the next, against a server that is gone."""
    yield
    background.cancel_waiting_retries()
