"""
The hot paths make a fixed number of queries, however many checks there are:
the checks, their tags, and (for results) their history and their known bugs.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db(transaction=True)
def test_project_of_many_checks_takes_four_queries(client, make_check):
    for i in range(20):
        make_check(name=f"c{i}", module="counter", tags=["t"])
    client.get("/checks/proj")  # warm the cache
    # Checks, tags, history, and one for the known bugs (buglist) of all the checks.
    assert queries_of(client, "/checks/proj") == 4
    assert queries_of(client, "/checks/tags/t") == 4
    assert queries_of(client, "/checks") == 2


@pytest.mark.django_db
def test_cached_single_check_takes_four_queries(client, make_check):
    make_check(name="one", module="counter", tags=["a", "b"])
    client.get("/checks/proj/one")
    # Check, tags, history, known bugs (buglist).
    assert queries_of(client, "/checks/proj/one") == 4
