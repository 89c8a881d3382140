"""
`{{ moment|ago }}`: how long ago, the same words on every page ("just now",
"5 minutes ago", "2 days ago"), as the pages' script says it when it updates them.
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

JUST_NOW_SECONDS = 60


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if not moment:
        return ""
    now = now or timezone.now()
    if (now - moment).total_seconds() < JUST_NOW_SECONDS:
        return "just now"
    return f"{timesince(moment, now, depth=1)} ago"
