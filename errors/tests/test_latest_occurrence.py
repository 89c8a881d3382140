"""
An active group always carries its latest occurrence, however old: retention
prunes every other old sample, so the Backstage Periskop card, which reads
`latest_errors[0]`, always has one.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from errors import tasks
from errors.models import Occurrence

pytestmark = pytest.mark.django_db


def test_retention_keeps_each_groups_latest_occurrence(client, make_group, make_occurrence, settings):
    settings.ERRORS_RETENTION_DAYS = 90
    now = timezone.now()
    quiet = make_group("Quiet@x", last_seen=now - timedelta(days=200))
    for days in (200, 300, 400):
        make_occurrence(quiet, f"quiet-{days}", now - timedelta(days=days))
    busy = make_group("Busy@x", last_seen=now)
    make_occurrence(busy, "busy-old", now - timedelta(days=100))
    make_occurrence(busy, "busy-new", now)

    tasks.prune()

    assert sorted(Occurrence.objects.values_list("uuid", flat=True)) == ["busy-new", "quiet-200"]
    served = {g["aggregation_key"]: g for g in client.get("/services/shop/errors/").json()}
    assert served["Quiet@x"]["latest_errors"][0]["uuid"] == "quiet-200"
    assert served["Busy@x"]["latest_errors"][0]["uuid"] == "busy-new"


def test_two_occurrences_at_the_same_moment_keep_one(make_group, make_occurrence, settings):
    settings.ERRORS_RETENTION_DAYS = 1
    old = timezone.now() - timedelta(days=10)
    group = make_group("Tie@x")
    make_occurrence(group, "a", old)
    make_occurrence(group, "b", old)
    tasks.prune()
    assert Occurrence.objects.count() == 1
