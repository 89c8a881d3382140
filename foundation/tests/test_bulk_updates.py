"""`update_rows` and `case`: many rows, each to its own values, in one statement."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from foundation.bulk_updates import case, update_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def users():
    return [User.objects.create(username=f"u{i}", first_name="old") for i in range(3)]


def test_update_rows_writes_each_row_its_own_values_in_one_statement(users):
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    users[0].first_name, users[0].last_login = "Ada", moment
    users[1].first_name, users[1].is_active = "O'Brien; --", False
    users[2].last_login = None

    with CaptureQueriesContext(connection) as queries:
        update_rows(User, users[:3], ["first_name", "last_login", "is_active"])

    assert len(queries) == 1
    stored = {u.username: (u.first_name, u.last_login, u.is_active) for u in User.objects.all()}
    assert stored == {
        "u0": ("Ada", moment, True), "u1": ("O'Brien; --", None, False), "u2": ("old", None, True),
    }


def test_update_rows_leaves_other_rows_and_fields_alone(users):
    other = User.objects.create(username="other", first_name="kept", last_name="kept")
    users[0].first_name, users[0].last_name = "new", "not written"

    update_rows(User, [users[0]], ["first_name"])

    assert User.objects.get(pk=users[0].pk).last_name == ""
    assert (User.objects.get(pk=other.pk).first_name, other.last_name) == ("kept", "kept")


def test_update_rows_of_nothing_runs_no_query():
    with CaptureQueriesContext(connection) as queries:
        update_rows(User, [], ["first_name"])
    assert len(queries) == 0


def test_an_added_case_is_an_increment_and_zero_elsewhere(users):
    increments = case(User, "id", {users[1].pk: 100}, added=True)  # any integer column

    added = dict(User.objects.annotate(plus=increments).values_list("username", "plus"))

    assert added == {"u0": 0, "u1": 100, "u2": 0}
