"""
An error group's effective status, written once on the model: an ignore whose date
has passed reads active, and new errors reopen a resolved group as a regression.
The queryset and the method must agree, for the API, the dashboard and Periskop's API.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from errors.models import ErrorGroup, GroupStatus, status_condition

NOW = timezone.now()


@pytest.fixture
def groups(make_group):
    """One group of each kind, by key."""
    kinds = {
        "active": {},
        "resolved": {"status": GroupStatus.RESOLVED, "resolved_at": NOW},
        "ignored for good": {"status": GroupStatus.IGNORED},
        "ignored for now": {"status": GroupStatus.IGNORED, "ignored_until": NOW + timedelta(hours=1)},
        "ignore over": {"status": GroupStatus.IGNORED, "ignored_until": NOW - timedelta(hours=1)},
        "ignore over just now": {"status": GroupStatus.IGNORED, "ignored_until": NOW},
    }
    return {key: make_group(key, **fields) for key, fields in kinds.items()}


def test_an_ignore_whose_date_has_come_reads_active(groups):
    shown = {key: group.effective_status(NOW) for key, group in groups.items()}
    assert shown == {
        "active": "active",
        "resolved": "resolved",
        "ignored for good": "ignored",
        "ignored for now": "ignored",
        "ignore over": "active",
        "ignore over just now": "active",
    }


@pytest.mark.parametrize("status", GroupStatus.values)
def test_the_status_filter_keeps_the_groups_whose_effective_status_it_is(groups, status):
    filtered = set(ErrorGroup.objects.with_status(status, NOW).values_list("aggregation_key", flat=True))
    assert filtered == {key for key, group in groups.items() if group.effective_status(NOW) == status}


def test_the_status_condition_works_through_a_relation(groups):
    from errors.models import Service

    condition = status_condition(GroupStatus.ACTIVE, NOW, prefix="groups__")
    assert list(Service.objects.filter(condition).distinct().values_list("name", flat=True)) == ["shop"]
    assert ErrorGroup.objects.active(NOW).count() == 3


def test_no_status_keeps_every_group(groups):
    assert ErrorGroup.objects.with_status(None, NOW).count() == len(groups)


def test_new_errors_reopen_a_resolved_group_as_a_regression(groups):
    group = groups["resolved"]
    group.reopen(NOW)
    assert (group.status, group.resolved_at, group.regression) == (GroupStatus.ACTIVE, None, True)


def test_new_errors_end_an_ignore_that_is_over_but_not_one_still_running(groups):
    over, running, for_good = groups["ignore over"], groups["ignored for now"], groups["ignored for good"]
    for group in (over, running, for_good):
        group.reopen(NOW)
    assert (over.status, over.ignored_until, over.regression) == (GroupStatus.ACTIVE, None, False)
    assert running.status == for_good.status == GroupStatus.IGNORED
