"""Django admin for checks and tags. Parameters are shown as stored: placeholders."""

from django.contrib import admin

from .models import Check, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    list_display = ["project", "name", "module", "ttl", "enabled"]
    list_filter = ["project", "enabled", "tags"]
    search_fields = ["project", "name", "description"]
    filter_horizontal = ["tags"]
