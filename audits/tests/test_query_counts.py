"""
The hot paths make a fixed number of queries, however many checks there are: the
checks come from the process's copy (`audits.definitions`, no query while no
check changed); a cached check, project or tag from its kept answer (no query at
all); and an answer made anew from cached results takes one query for the history
and one for the known bugs of all its checks.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [5, 40])
def test_a_warm_project_takes_two_queries_then_none_whatever_its_size(client, make_check, size):
    for i in range(size):
        make_check(name=f"c{i}", module="counter", tags=["t"])
    client.get("/checks/proj")  # warm the cache
    # Made from the cached results: the history and the known bugs of all the checks.
    assert queries_of(client, "/checks/proj") == 2
    assert queries_of(client, "/checks/tags/t") == 2
    # Then kept.
    assert queries_of(client, "/checks/proj") == 0
    assert queries_of(client, "/checks/tags/t") == 0
    assert queries_of(client, "/checks") == 0


@pytest.mark.django_db
def test_a_cached_single_check_takes_no_query(client, make_check):
    make_check(name="one", module="counter", tags=["a", "b"])
    client.get("/checks/proj/one")
    assert queries_of(client, "/checks/proj/one") == 0


@pytest.mark.django_db
def test_after_a_change_the_checks_are_read_once(client, make_check):
    check = make_check(name="one", module="counter", tags=["a", "b"])
    client.get("/checks/proj/one")
    check.description = "Changed."
    check.save()
    # The checks and their tags, the history and the known bugs; then none again.
    assert queries_of(client, "/checks/proj/one") == 4
    assert queries_of(client, "/checks/proj/one") == 0
