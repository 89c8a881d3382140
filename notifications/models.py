"""
Where alerts go (`Channel`) and when they must not go (`MaintenanceWindow`).

This app imports neither audits nor errors: they import it. So the things a window
covers are names (`project/check`, tags, projects, error services), checked by the
apps that own them (`register_scope`, from their AppConfig.ready()).

Which channels an alert uses: the channels its check, the check's tags or its error
service chose; else those chosen for its project (`Channel.projects`); else the
default channels (`Channel.is_default`). `Channel.objects.for_alert()` is that rule.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from celery.schedules import crontab as celery_crontab
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from foundation import durations


# scope field ("checks", "tags", "projects", "services") -> names -> the unknown ones
_scope_checks: dict[str, Callable[[list[str]], list[str]]] = {}


def register_scope(field: str, unknown: Callable[[list[str]], list[str]]) -> None:
    """Let the app that owns the names of `field` say which of them do not exist
    (from its AppConfig.ready())."""
    _scope_checks[field] = unknown


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (JSON, with a `text` key for Slack and Mattermost)"
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams (workflow webhook)"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"


class ChannelQuerySet(models.QuerySet):
    def for_alert(self, chosen_ids=(), project: str | None = None, service: str | None = None):
        """The enabled channels of an alert: those its check or tags chose, else
        those chosen for its project or error service, else the defaults. A choice
        of disabled channels is still a choice: it falls back on nothing."""
        channels = list(self)  # a handful of rows: one query
        for rule in (
            lambda c: c.pk in set(chosen_ids),
            lambda c: project is not None and project in c.projects,
            lambda c: service is not None and service in c.services,
            lambda c: c.is_default,
        ):
            selected = [c for c in channels if rule(c)]
            if selected:
                return [c for c in selected if c.enabled]
        return []


class Channel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where to POST (webhook, Slack, Teams), or Alertmanager's base URL "
        "(http://alertmanager:9093). ${VAR} allowed: resolved when sending, never shown.",
    )
    recipients = models.JSONField(
        default=list, blank=True, help_text='Email addresses, for email: ["ops@example.com"].'
    )
    is_default = models.BooleanField(
        default=False, help_text="Used by the alerts for which nothing chose a channel."
    )
    projects = models.JSONField(
        default=list,
        blank=True,
        help_text='Projects whose checks use this channel when they chose none: ["web"].',
    )
    services = models.JSONField(
        default=list, blank=True,
        help_text='Error services whose alerts (new error, regression) use this channel.',
    )
    enabled = models.BooleanField(default=True)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.kind == ChannelKind.EMAIL:
            _email_list(self.recipients)
        elif not self.url:
            raise ValidationError({"url": "A URL is required for this kind of channel."})
        elif not self.url.startswith(("http://", "https://", "${")):
            raise ValidationError({"url": "Must be an http:// or https:// URL."})
        _name_list("projects", self.projects)
        _name_list("services", self.services)


MAX_RECURRING = timedelta(days=7)
MAX_SILENCE = timedelta(days=366)


class MaintenanceWindowQuerySet(models.QuerySet):
    def current_or_future(self, now: datetime | None = None):
        now = now or timezone.now()
        return self.filter(models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=now))


class MaintenanceWindow(models.Model):
    """
    A time during which what it covers alerts nobody: planned (`starts_at` to
    `ends_at`), recurring (`crontab` fires, each time for `duration`, between
    `starts_at` and `ends_at` if set), or ad hoc (a silence: now, for `duration`).
    """

    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    crontab = models.CharField(
        max_length=100, blank=True, help_text="Recurring: when each window opens, in UTC (0 2 * * 0)."
    )
    duration = models.CharField(
        max_length=20, blank=True,
        help_text="How long each recurring window lasts, or a silence from now (2h, 30m).",
    )
    checks = models.JSONField(default=list, blank=True, help_text='["project/check"]')
    tags = models.JSONField(default=list, blank=True)
    projects = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True, help_text="Error services.")
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = MaintenanceWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self):
        return self.name

    def clean(self):
        """Every problem at once, by field; an ad hoc silence gets its end here."""
        problems = {}
        for field in ("checks", "tags", "projects", "services"):
            _collect(problems, _name_list, field, getattr(self, field))
        if not problems:
            _collect(problems, self._clean_scope)
        _collect(problems, self._clean_times)
        if problems:
            raise ValidationError(problems)

    def _clean_scope(self) -> None:
        if not (self.checks or self.tags or self.projects or self.services):
            raise ValidationError("Name at least one check, tag, project or service.")
        unknown = {
            field: f"Unknown: {', '.join(missing)}"
            for field, check in _scope_checks.items()
            if (missing := check(getattr(self, field)))
        }
        if unknown:
            raise ValidationError(unknown)

    def _clean_times(self) -> None:
        span = self._duration()
        if self.crontab:
            _crontab(self.crontab)
            if span is None:
                raise ValidationError({"duration": "A recurring window needs a duration."})
        elif self.ends_at is None and span is not None:
            self.ends_at = self.starts_at + span  # a silence: from its start, for this long
        elif self.ends_at is None:
            raise ValidationError({"ends_at": "Give an end, a duration, or a crontab."})
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "Must be after the start."})

    def _duration(self) -> timedelta | None:
        if not self.duration:
            return None
        try:
            seconds = durations.whole_seconds(self.duration, minimum=60)
        except durations.DurationError as exc:
            raise ValidationError({"duration": str(exc)}) from None
        # A recurring window is checked minute by minute back from now: a week at most.
        longest = MAX_RECURRING if self.crontab else MAX_SILENCE
        if seconds > longest.total_seconds():
            raise ValidationError({"duration": f"At most {longest.days} days."})
        return timedelta(seconds=seconds)

    def is_active(self, at: datetime) -> bool:
        if at < self.starts_at or (self.ends_at is not None and at >= self.ends_at):
            return False
        if not self.crontab:
            return True
        return _fired_within(_crontab(self.crontab), at, self._duration())

    def covers(self, scope: dict) -> bool:
        """Whether this window covers something described by `scope`: any of
        `check` ("project/name"), `project`, `tags` (a list), `service`."""
        return (
            scope.get("check") in self.checks
            or scope.get("project") in self.projects
            or scope.get("service") in self.services
            or bool(set(scope.get("tags") or ()) & set(self.tags))
        )


def _fired_within(schedule, at: datetime, span: timedelta) -> bool:
    """Whether `schedule` fired in (at - span, at], minute by minute (a window of a
    week is 10 080 set lookups, on a few windows)."""
    minute = at.replace(second=0, microsecond=0)
    for step in range(int(span.total_seconds() // 60) + 1):
        moment = minute - timedelta(minutes=step)
        if at - moment >= span:
            break
        if (
            moment.minute in schedule.minute and moment.hour in schedule.hour
            and moment.day in schedule.day_of_month and moment.month in schedule.month_of_year
            and moment.isoweekday() % 7 in schedule.day_of_week
        ):
            return True
    return False


def _crontab(value: str):
    fields = value.split()
    if len(fields) != 5:
        raise ValidationError({"crontab": "Five fields: minute hour day month weekday."})
    minute, hour, day, month, weekday = fields
    try:
        return celery_crontab(minute, hour, weekday, day, month)
    except (ValueError, TypeError) as exc:
        raise ValidationError({"crontab": f"Invalid crontab: {exc}"}) from None


def _collect(problems: dict, check, *args) -> None:
    """Run `check(*args)`; add the ValidationError it raises to `problems`."""
    try:
        check(*args)
    except ValidationError as exc:
        for field, messages in exc.update_error_dict({}).items():
            problems.setdefault(field, []).extend(messages)


def _name_list(field: str, value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError({field: "Must be a list of names."})


def _email_list(value) -> None:
    _name_list("recipients", value)
    if not value:
        raise ValidationError({"recipients": "Give at least one address."})
    for address in value:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"recipients": f"Not an email address: {address}"}) from None
