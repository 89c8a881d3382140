"""
Known bugs: from Bugzilla (kept up to date by `bugtracker.sync`) or entered by hand
in admin, and what they are about: checks and error groups.

A bug concerns a check or an error group when its whiteboard names it (see
`bugtracker.matching`) or when someone linked them in admin (`checks`,
`error_groups`). The models of the other apps are referred to by name only, so that
this app imports neither `audits` nor `errors`.

Confidentiality: a Bugzilla bug in any group (`restricted`) is stored without its
summary at all; a bug marked `confidential` by hand keeps its summary for the admin
change form only. Either way `is_confidential` is true, and the API, the admin list,
`str()` and the logs show the bug's id and never its summary.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

HOT = timedelta(hours=240)
COLD = timedelta(hours=720)


class Tracker(models.TextChoices):
    BUGZILLA = "bugzilla", "Bugzilla"
    MANUAL = "manual", "Manual"


class KnownBugQuerySet(models.QuerySet):
    def visible(self):
        """The bugs to show: manual ones, and Bugzilla ones that the last sync still
        returned, unless Bugzilla is turned off (empty BUGTRACKER_URL)."""
        if not settings.BUGTRACKER_URL:
            return self.filter(tracker=Tracker.MANUAL)
        return self.filter(Q(tracker=Tracker.MANUAL) | Q(missing_since__isnull=True))

    def confidential(self):
        return self.filter(Q(confidential=True) | Q(restricted=True))


class KnownBug(models.Model):
    tracker = models.CharField(max_length=10, choices=Tracker.choices, default=Tracker.MANUAL)
    bug_id = models.CharField(
        "bug id",
        max_length=100,
        help_text="The number in Bugzilla; any reference for a manual bug.",
    )
    url = models.URLField(
        "URL", max_length=500, blank=True,
        help_text="Manual bugs: the link shown. Bugzilla bugs link to BUGTRACKER_URL/<id>.",
    )
    summary = models.TextField(blank=True)
    status = models.CharField(max_length=50, blank=True)
    is_open = models.BooleanField("open", default=True)
    last_change_time = models.DateTimeField("last change", null=True, blank=True)
    confidential = models.BooleanField(
        default=False,
        help_text="Show the id only, never the summary (in the API, lists and logs).",
    )
    restricted = models.BooleanField(
        default=False, editable=False,
        help_text="In a Bugzilla security group: confidential, and its summary is not stored.",
    )
    whiteboard = models.TextField(
        blank=True,
        help_text="Tokens such as project/name or errors:service/aggregation_key link the "
        "bug to checks and error groups.",
    )
    checks = models.ManyToManyField("audits.Check", blank=True, related_name="known_bugs")
    error_groups = models.ManyToManyField(
        "errors.ErrorGroup", blank=True, related_name="known_bugs", verbose_name="error groups"
    )
    # Bugzilla bugs the last sync did not return any more: hidden, links kept.
    missing_since = models.DateTimeField(null=True, blank=True, editable=False)
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = KnownBugQuerySet.as_manager()

    class Meta:
        verbose_name = "known bug"
        ordering = [F("is_open").desc(), F("last_change_time").desc(nulls_last=True), "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["tracker", "bug_id"], name="unique_known_bug")
        ]

    def __str__(self):
        label = f"Bug {self.bug_id}" if self.tracker == Tracker.BUGZILLA else self.bug_id
        if self.is_confidential:
            return f"{label} (confidential)"
        return f"{label}: {self.summary[:60]}" if self.summary else label

    def clean(self):
        self.bug_id = (self.bug_id or "").strip()
        if self.tracker == Tracker.BUGZILLA and not self.bug_id.isdigit():
            raise ValidationError({"bug_id": "A Bugzilla bug id is a number."})

    @property
    def is_confidential(self) -> bool:
        return self.confidential or self.restricted

    @property
    def public_summary(self) -> str:
        return "" if self.is_confidential else self.summary

    def get_url(self) -> str:
        if self.tracker == Tracker.BUGZILLA and settings.BUGTRACKER_URL:
            return f"{settings.BUGTRACKER_URL}/{self.bug_id}"
        return self.url

    def heat(self, now=None) -> str:
        return heat(self.last_change_time, now)


def heat(last_change, now=None) -> str:
    """Telescope's: "hot" if changed in the last 240 hours, "cold" if not for 720."""
    if last_change is None:
        return ""
    age = (now or timezone.now()) - last_change
    if age < HOT:
        return "hot"
    if age > COLD:
        return "cold"
    return ""
