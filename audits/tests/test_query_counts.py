"""
The hot paths make a fixed number of queries, however many checks there are: the
checks come from the process's copy (`audits.definitions`, no query while no
check changed); a cached check, project or tag from its kept answer (no query at
all); and an answer made anew from cached results takes one query for the history
and one for the known bugs of all its checks, and, when some of them fail, one for
the states of the checks those depend on (`blocked_by`).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import maintenance


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [5, 40])
def test_a_warm_project_takes_two_queries_then_none_whatever_its_size(client, make_check, size):
    checks = [make_check(name=f"c{i}", module="counter", tags=["t"]) for i in range(size)]
    for parent, child in zip(checks, checks[1:]):
        child.depends_on.add(parent)  # a chain c0 <- c1 <- ... : blocked_by for each
    client.get("/checks/proj")  # warm the cache
    # Made from the cached results: the history and the known bugs of all the
    # checks (they all pass: no parent can block one).
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
    # The checks, their tags and parents; the history and the known bugs; then
    # none again.
    assert queries_of(client, "/checks/proj/one") == 5
    assert queries_of(client, "/checks/proj/one") == 0


@pytest.mark.django_db(transaction=True)
def test_a_cold_project_takes_as_many_queries_for_40_checks_as_for_5(client, make_check):
    for i in range(5):
        make_check(project="small", name=f"c{i}", module="counter")
    for i in range(40):
        make_check(project="large", name=f"c{i}", module="counter")
    queries_of(client, "/checks")  # the checks are read once, before
    maintenance.open_windows()  # and the maintenance windows (then cached a minute)
    small = queries_of(client, "/checks/small")
    # One batch of runs, in one transaction (2): the run state of the rows, the
    # history in one insert, the failing checks that recover, the alert states and
    # the last-run fields in one update each; then the history and the known bugs
    # of the answer (every check passes: no dependency to read).
    assert small == queries_of(client, "/checks/large") == 9


@pytest.mark.django_db(transaction=True)
def test_a_cold_project_runs_each_check_once(client, make_check):
    from audits.tests.checkmods import counter

    for i in range(30):
        make_check(name=f"c{i}", module="counter", params={"key": f"c{i}"})
    assert client.get("/checks/proj").status_code == 200
    assert client.get("/checks/proj").status_code == 200  # cached
    assert sorted(counter.calls()) == sorted(f"c{i}" for i in range(30))
