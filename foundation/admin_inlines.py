"""
Admin inlines that only show rows, for data that is recorded rather than edited: a
check's latest runs, a service's targets, an error group's newest occurrences.
"""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet


class ReadOnlyInlineFormSet(BaseInlineFormSet):
    """
    Shows rows (the first `limit`, in `ordering` when given): whatever is posted for
    it is ignored, so the parent form saves even when the post has no management
    form for it.
    """

    limit: int | None = None
    ordering: tuple[str, ...] = ()

    def __init__(self, data=None, files=None, **kwargs):
        super().__init__(None, None, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        if queryset.query.is_sliced:
            return queryset  # already cut by an earlier call
        if self.ordering:
            queryset = queryset.order_by(*self.ordering)
        if self.limit is not None:
            queryset = queryset[: self.limit]
        self._queryset = queryset
        return queryset

    def is_valid(self):
        return True

    def has_changed(self):
        return False

    def save(self, commit=True):
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []


class ReadOnlyInline(admin.TabularInline):
    formset = ReadOnlyInlineFormSet
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
