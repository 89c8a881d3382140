"""
The admin's read-only inline, shared by a check's runs, a service's targets and an
error group's occurrences: shows the first rows, in order, and ignores what is
posted for it, so the parent saves with or without its management form.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.forms.models import inlineformset_factory
from django.utils import timezone

from foundation.admin_inlines import ReadOnlyInline, ReadOnlyInlineFormSet

pytestmark = pytest.mark.django_db


class OldestTwo(ReadOnlyInlineFormSet):
    limit = 2
    ordering = ("action_time",)


@pytest.fixture
def user():
    """A parent with five children, made newest first."""
    user = User.objects.create_user("ops")
    now = timezone.now()
    for minutes in range(5):
        LogEntry.objects.create(
            user=user, action_time=now - timedelta(minutes=minutes), object_repr=f"{minutes}",
            action_flag=CHANGE,
        )
    return user


def formset(user, data=None, cls=OldestTwo):
    factory = inlineformset_factory(User, LogEntry, formset=cls, fields=["object_repr"], extra=0)
    return factory(data, instance=user)


def test_it_shows_the_first_rows_in_its_order(user):
    shown = [form.instance.object_repr for form in formset(user).forms]
    assert shown == ["4", "3"]


def test_without_a_limit_or_ordering_it_shows_every_row(user):
    assert len(formset(user, cls=ReadOnlyInlineFormSet).forms) == 5


@pytest.mark.parametrize("posted", [
    {},  # no management form at all
    {"logentry_set-TOTAL_FORMS": "1", "logentry_set-INITIAL_FORMS": "1",
     "logentry_set-0-id": "nonsense", "logentry_set-0-object_repr": "edited"},
])
def test_what_is_posted_for_it_is_ignored(user, posted):
    rows = formset(user, posted)
    assert rows.is_valid() and not rows.has_changed()
    assert rows.save() == []
    assert not LogEntry.objects.filter(object_repr="edited").exists()


class LogEntries(ReadOnlyInline):
    model = LogEntry


def test_the_inline_allows_no_add_change_or_delete(rf):
    inline = LogEntries(User, admin.site)
    request = rf.get("/")
    assert (inline.max_num, inline.extra, inline.can_delete) == (0, 0, False)
    assert not any(
        (inline.has_add_permission(request), inline.has_change_permission(request),
         inline.has_delete_permission(request))
    )
