"""`|ago`: the same words for "how long ago" on every dashboard page."""

from datetime import datetime, timedelta, timezone

import pytest

from foundation.templatetags.relative_time import ago

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("before, words", [
    (timedelta(seconds=0), "just now"),
    (timedelta(seconds=59), "just now"),
    (timedelta(minutes=1), "1 minute ago"),
    (timedelta(minutes=5, seconds=30), "5 minutes ago"),
    (timedelta(days=2, hours=3), "2 days ago"),
])
def test_ago_says_just_now_under_a_minute_and_the_largest_unit_after(before, words):
    assert ago(NOW - before, NOW).replace("\xa0", " ") == words  # Django keeps "5 minutes" together


def test_ago_of_nothing_is_empty():
    assert ago(None, NOW) == ""
