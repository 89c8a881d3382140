"""
Errors as data: the services to scrape, the instances found for them, and the
exceptions they report, aggregated exactly across instances and over time.

Exactness rests on `TargetCount`: the last `total_count` each instance reported
for each key, kept in the database so that a restart of this service, or several
scrapers at once, neither double-counts nor loses anything (see
`errors.aggregation`).
"""

import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import connection, models
from django.utils import timezone

from foundation.names import NameValidator

# Larger counts do not fit the 64-bit integer columns they are stored in.
MAX_COUNT = 2**63 - 1

# Request headers whose values are credentials: masked wherever an occurrence is
# shown, to everyone (Periskop's API, /api/errors/, the dashboard).
CREDENTIAL_HEADER = re.compile(
    r"\A(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key)\Z|token|secret",
    re.IGNORECASE,
)
MASKED = "[masked]"
BODY_WITHHELD = "[withheld: request bodies are shown to staff and API token holders only]"

# A service's name is a Prometheus label value and a part of Periskop's URLs.
SERVICE_NAME = RegexValidator(
    r"\A[A-Za-z0-9][A-Za-z0-9_.-]*\Z", "must be letters, digits, '.', '-' or '_'"
)


class Service(models.Model):
    name = models.CharField(
        max_length=100, unique=True, validators=[NameValidator(), SERVICE_NAME]
    )
    endpoint = models.CharField(
        max_length=200, default="/errors", help_text="Path that serves the errors JSON."
    )
    scheme = models.CharField(
        max_length=5, choices=[("http", "http"), ("https", "https")], default="http"
    )
    refresh_interval = models.PositiveIntegerField(
        default=30, help_text="Seconds between two scrapes."
    )
    discovery = models.JSONField(
        default=dict,
        blank=True,
        help_text="static_configs, file_sd_configs, dns_sd_configs, relabel_configs "
        "(Prometheus syntax).",
    )
    request_headers = models.JSONField(
        default=dict, blank=True, help_text="Headers sent with each scrape; ${VAR} allowed."
    )
    config_dir = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Folder that relative file_sd_configs paths are read from: that of the "
        "file the service was imported from; empty: that of CONFIG_FILE.",
    )
    follow_redirects = models.BooleanField(
        default=False,
        help_text="Follow a redirect to another host when scraping (never with the "
        "service's request headers). Off: such a redirect marks the target down.",
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    next_scrape_at = models.DateTimeField(null=True, editable=False, db_index=True)
    last_scrape_at = models.DateTimeField(null=True, editable=False)
    last_scrape_duration = models.FloatField(null=True, editable=False)
    last_discovery_errors = models.JSONField(default=list, editable=False)
    # The discovered labels of the targets relabelling dropped at the last scrape.
    dropped_targets = models.JSONField(default=list, editable=False)
    scrape_failures = models.BigIntegerField(
        default=0, editable=False, help_text="Failed target scrapes since the service was added."
    )
    alert_rate_per_hour = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Alert when the service counts this many errors or more in an hour "
        "(at most one alert an hour). Empty: no rate alert.",
    )
    rate_alerted_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name

    def error_rate(self, now) -> int:
        """Occurrences over the last hour: this clock hour's count, and the share of
        the previous hour's that is still within 60 minutes (a sliding window)."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        counts = dict(
            HourlyCount.objects.filter(group__service=self, hour__gte=hour - timedelta(hours=1))
            .values_list("hour").annotate(models.Sum("count"))
        )
        still_in = 1 - (now - hour) / timedelta(hours=1)
        return round(counts.get(hour, 0) + counts.get(hour - timedelta(hours=1), 0) * still_in)

    def claim_rate_alert(self, now) -> bool:
        """Whether this process alerts the rate now: at most once an hour a service."""
        due = models.Q(rate_alerted_at__isnull=True) | models.Q(
            rate_alerted_at__lte=now - timedelta(hours=1)
        )
        return bool(Service.objects.filter(due, pk=self.pk).update(rate_alerted_at=now))

    def discovery_dir(self, config_file: str) -> str:
        """The folder relative file_sd paths start from: the imported file's, else
        that of `config_file` (the CONFIG_FILE setting), as Prometheus reads them
        relative to its config file."""
        return self.config_dir or str(Path(config_file).resolve().parent)


class TargetStatus(models.TextChoices):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Target(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="targets")
    address = models.CharField(max_length=255, help_text="host:port")
    labels = models.JSONField(default=dict, help_text="Its labels after relabelling.")
    discovered_labels = models.JSONField(
        default=dict, help_text="Its labels before relabelling, as discovery found them."
    )
    url = models.TextField(help_text="The URL scraped, built from the relabelled labels.")
    status = models.CharField(
        max_length=10, choices=TargetStatus.choices, default=TargetStatus.UNKNOWN
    )
    last_scrape_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)
    duration = models.FloatField(null=True, help_text="Seconds the last scrape took.")
    target_uuid = models.CharField(max_length=100, blank=True)
    discovered_at = models.DateTimeField(default=timezone.now)
    # The hash of the last payload merged, and when: a byte-identical payload is not
    # parsed nor merged again (it would add nothing) while that merge is recent.
    payload_digest = models.CharField(max_length=64, blank=True, editable=False)
    payload_merged_at = models.DateTimeField(null=True, editable=False)
    # Which scrape (a shard's token) has this target, until when: two scrapes of one
    # service that overlap never fetch the same target, and a killed one's claim ends.
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, editable=False)

    class Meta:
        ordering = ["service", "address"]
        constraints = [
            models.UniqueConstraint(fields=["service", "address"], name="unique_target")
        ]

    def __str__(self):
        return f"{self.service}: {self.address}"

    def save(self, *args, **kwargs):
        # Discovery always gives the URL; a target made otherwise (a test, a shell) is
        # scraped as Periskop would, at the service's scheme and endpoint.
        if not self.url:
            self.url = f"{self.service.scheme}://{self.address}{self.service.endpoint}"
        super().save(*args, **kwargs)


class GroupStatus(models.TextChoices):
    ACTIVE = "active"
    RESOLVED = "resolved"
    IGNORED = "ignored"


def status_condition(status: str, now, prefix: str = "") -> models.Q:
    """
    The groups whose effective status is `status` at `now`, as a condition, also
    through a relation (`prefix="groups__"`). An ignore whose `ignored_until` has
    passed is over: the group reads active, although its row says ignored until new
    errors or a person change it (see `ErrorGroup.effective_status`).
    """

    def q(**lookups):
        return models.Q(**{f"{prefix}{name}": value for name, value in lookups.items()})

    if status == GroupStatus.ACTIVE:
        return q(status=GroupStatus.ACTIVE) | q(status=GroupStatus.IGNORED, ignored_until__lte=now)
    if status == GroupStatus.IGNORED:  # for good, or until a date still to come
        return q(status=GroupStatus.IGNORED) & (
            q(ignored_until__isnull=True) | q(ignored_until__gt=now)
        )
    return q(status=status)


class ErrorGroupQuerySet(models.QuerySet):
    def active(self, now=None):
        """Active groups, and ignored ones whose ignore period is over."""
        return self.with_status(GroupStatus.ACTIVE, now)

    def with_status(self, status: str | None, now=None):
        """The groups whose effective status is `status`; every group when None."""
        if status is None:
            return self
        return self.filter(status_condition(status, now or timezone.now()))


class ErrorGroup(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="groups")
    # Indexed, so bounded: longer keys are shortened with a hash (errors.aggregation).
    aggregation_key = models.CharField(max_length=500)
    severity = models.CharField(max_length=20, default="error")
    total_count = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField(null=True)
    last_seen = models.DateTimeField(null=True, db_index=True)
    status = models.CharField(
        max_length=10, choices=GroupStatus.choices, default=GroupStatus.ACTIVE, db_index=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    ignored_until = models.DateTimeField(
        null=True, blank=True, help_text="Empty: ignored for good."
    )
    regression = models.BooleanField(
        default=False, help_text="It came back after being resolved."
    )
    # The latest occurrence's class and message, for lists and text search.
    error_class = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)

    objects = ErrorGroupQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "aggregation_key"], name="unique_error_group"
            )
        ]

    def __str__(self):
        return f"{self.service}: {self.aggregation_key}"

    def ignore_is_over(self, now=None) -> bool:
        """Ignored until a date that has come (an ignore for good is never over)."""
        return (
            self.status == GroupStatus.IGNORED
            and self.ignored_until is not None
            and self.ignored_until <= (now or timezone.now())
        )

    def effective_status(self, now=None) -> str:
        """The status people read: an ignore period that is over reads active."""
        return GroupStatus.ACTIVE if self.ignore_is_over(now) else self.status

    def reopen(self, now=None) -> None:
        """
        New errors came: a resolved group comes back flagged as a regression, and an
        ignore that is over ends. Not saved: a scrape saves its groups in bulk.
        """
        if self.status == GroupStatus.RESOLVED:
            self.status, self.resolved_at, self.regression = GroupStatus.ACTIVE, None, True
        elif self.ignore_is_over(now):
            self.status, self.ignored_until = GroupStatus.ACTIVE, None

    def resolve(self, now=None) -> None:
        self.status, self.resolved_at = GroupStatus.RESOLVED, now or timezone.now()
        self.regression = False
        self.save(update_fields=["status", "resolved_at", "regression"])
        PeriskopAnswer.invalidate(self.service_id)

    def unresolve(self) -> None:
        self.status, self.resolved_at, self.ignored_until = GroupStatus.ACTIVE, None, None
        self.save(update_fields=["status", "resolved_at", "ignored_until"])
        PeriskopAnswer.invalidate(self.service_id)

    def ignore(self, until=None) -> None:
        self.status, self.ignored_until = GroupStatus.IGNORED, until
        self.save(update_fields=["status", "ignored_until"])
        PeriskopAnswer.invalidate(self.service_id)


class OccurrenceQuerySet(models.QuerySet):
    def prunable(self, cutoff):
        """The occurrences older than `cutoff`, except each group's latest: a group
        always shows the last time it happened (Periskop's clients read
        `latest_errors[0]`), however old that is."""
        latest = (
            Occurrence.objects.filter(group=models.OuterRef("group"))
            .order_by("-timestamp", "-pk").values("pk")[:1]
        )
        return self.filter(timestamp__lt=cutoff).exclude(pk=models.Subquery(latest))


class Occurrence(models.Model):
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="occurrences")
    uuid = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    severity = models.CharField(max_length=20, default="error")
    error_class = models.CharField(max_length=255)
    message = models.TextField(blank=True)
    stacktrace = models.JSONField(default=list)
    cause = models.JSONField(null=True, help_text="The chain of causes, outermost first.")
    http_context = models.JSONField(null=True)

    objects = OccurrenceQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["group", "-timestamp"], name="occurrence_latest")]
        constraints = [
            models.UniqueConstraint(fields=["group", "uuid"], name="unique_occurrence")
        ]

    def __str__(self):
        return f"{self.error_class} at {self.timestamp:%Y-%m-%d %H:%M:%S}"

    def shown_http_context(self, with_body: bool) -> dict | None:
        """The HTTP context as anyone may see it: credential headers masked, and the
        body withheld unless `with_body` (see `bodies_visible_to`)."""
        return shown_http_context(self.http_context, with_body)


def shown_http_context(context, with_body: bool) -> dict | None:
    """`Occurrence.shown_http_context` of a stored context (a dict, or None)."""
    if not isinstance(context, dict):
        return None
    headers = context.get("request_headers")
    shown = dict(context)
    if isinstance(headers, dict):
        shown["request_headers"] = {
            name: MASKED if CREDENTIAL_HEADER.search(str(name)) else value
            for name, value in headers.items()
        }
    if not with_body and shown.get("request_body"):
        shown["request_body"] = BODY_WITHHELD
    return shown


def bodies_visible_to(user, *, session: bool) -> bool:
    """Request bodies are for staff and API token holders: an active user logged in
    by a `session` must be staff, one let in by a token need not. With
    ERRORS_PUBLIC_BODIES they are for everyone."""
    if settings.ERRORS_PUBLIC_BODIES:
        return True
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or not session


class TargetCount(models.Model):
    """The last total_count one instance reported for one key."""

    group = models.ForeignKey(
        ErrorGroup, on_delete=models.CASCADE, related_name="target_counts"
    )
    # target_uuid of the instance, or its URL for clients that send none.
    target_id = models.CharField(max_length=255)
    count = models.BigIntegerField()
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "target_id"], name="unique_target_count")
        ]


class HourlyCount(models.Model):
    """How many occurrences a group gained during one hour, for charts."""

    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="hourly")
    hour = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [
            models.UniqueConstraint(fields=["group", "hour"], name="unique_hourly_count")
        ]


class PeriskopAnswer(models.Model):
    """
    Periskop's JSON answer for one service's errors, rendered once after a change
    (`errors.periskop.answers`) and served as these bytes to every reader.

    Two variants: without request bodies (anyone), with them (staff and tokens).
    `invalidated_at` later than `rendered_from` (the moment the rendering started
    reading) means a group changed since: the next reader renders it again.
    `valid_until`: an ignore period ends then, and the answer with it.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="periskop_answers")
    with_bodies = models.BooleanField(default=False)
    rendered_from = models.DateTimeField(null=True)
    invalidated_at = models.DateTimeField(null=True)
    valid_until = models.DateTimeField(null=True)
    # Last, in the table too (migration 0008): SQLite reads a row's columns in
    # order, and a column after megabytes of body costs reading through them.
    body = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "with_bodies"], name="unique_periskop_answer")
        ]

    @classmethod
    def invalidate(cls, service_id: int, now=None) -> None:
        """Its groups changed: every variant is rendered again when next read. In
        one statement, an upsert: a variant not stored yet may be being rendered
        from what was there before, and the mark makes it stale once stored."""
        now = now or timezone.now()
        cls.objects.bulk_create(
            [cls(service_id=service_id, with_bodies=b, invalidated_at=now) for b in (False, True)],
            update_conflicts=True, update_fields=["invalidated_at"],
            # MySQL's upsert takes no conflict target (it uses every unique key).
            unique_fields=(
                ["service", "with_bodies"] if connection.features.supports_update_conflicts_with_target
                else None
            ),
        )

    def is_current(self, now) -> bool:
        if self.rendered_from is None:
            return False
        if self.invalidated_at is not None and self.invalidated_at >= self.rendered_from:
            return False
        return self.valid_until is None or now < self.valid_until
