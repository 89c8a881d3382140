"""
The hot paths make a fixed number of queries, however many checks there are:
the checks, their tags, the checks they depend on, and (for results) their
history and their known bugs.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db(transaction=True)
def test_project_of_many_checks_takes_five_queries(client, make_check):
    checks = [make_check(name=f"c{i}", module="counter", tags=["t"]) for i in range(20)]
    for parent, child in zip(checks, checks[1:]):
        child.depends_on.add(parent)  # a chain c0 <- c1 <- ... <- c19
    client.get("/checks/proj")  # warm the cache
    # Checks, tags, parents (depends_on, blocked_by), history, and one for the known
    # bugs (buglist) of all the checks.
    assert queries_of(client, "/checks/proj") == 5
    assert queries_of(client, "/checks/tags/t") == 5
    assert queries_of(client, "/checks") == 3


@pytest.mark.django_db
def test_cached_single_check_takes_five_queries(client, make_check):
    make_check(name="one", module="counter", tags=["a", "b"])
    client.get("/checks/proj/one")
    # Check, tags, parents, history, known bugs (buglist).
    assert queries_of(client, "/checks/proj/one") == 5
