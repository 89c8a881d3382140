"""
Checks as data: what to run (a module and its parameters), how long a result
stays fresh, and how people find it (project, tags).

Parameters are stored as written in the config, `${VAR}` placeholders included;
they are resolved only when the check runs (see `foundation.placeholders`).

A check may depend on others (`depends_on`): while one of them fails, its own
failures are that one's consequence, reported as "blocked by infra/dns", and they
do not alert (`Check.blocked_by`, consulted by `audits.states`).

A check keeps its own schedule (django-celery-beat's `PeriodicTask`, see
`audits.schedules`) in step itself: on save, on delete, and through the queryset's
bulk operations, whoever calls them (admin, import, API, shell).

Likewise every change to what the API shows of a check (a save, a delete, a bulk
update or create, its tags, a tag renamed or deleted) bumps the *definitions
version* in the cache, whoever makes it, so that each process's copy of the
checks in memory (`audits.definitions`) is reloaded. A run's state updates
(`RUN_STATE_FIELDS`) leave it alone: they happen on every run.
"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from audits import checkmodules, params, schedules
from foundation import placeholders
from foundation.names import NameValidator

# What a check's PeriodicTask is made of: a save that touches none of these (the
# runner's state updates, on every run) leaves the schedule alone, at no query.
SCHEDULE_FIELDS = frozenset({"project", "name", "schedule", "enabled"})
# Names are parts of URLs: "+" joins tags (/checks/tags/a+b), "?", "#" and "%" would
# end or escape the path, and a space is easily lost. A project "tags" would be
# read as /checks/tags/{tag}.
URL_FORBIDDEN = "+?#% "
URL_NAME = NameValidator(URL_FORBIDDEN)
# What a run writes on its check (state, refresh claims): nothing the API describes,
# so writing only these keeps the definitions version (and every process's copy).
RUN_STATE_FIELDS = frozenset({
    "alert_state", "consecutive_failures", "last_run_at", "last_success", "last_crashed",
    "last_scalar", "next_refresh_at", "periodic_task", "updated",
})
DEFINITIONS_VERSION_KEY = "checks:definitions:version"

logger = logging.getLogger(__name__)


def definitions_version() -> str | None:
    """The current definitions version in the cache (None: unknown, or cache down)."""
    try:
        return cache.get(DEFINITIONS_VERSION_KEY)
    except Exception as exc:  # redis-py raises many types: a cache down is no error here
        logger.warning("Cache unavailable (%s); reloading the checks", type(exc).__name__)
        return None


def definitions_changed(fields=None) -> None:
    """
    Bump the definitions version, unless only `RUN_STATE_FIELDS` of `fields` changed
    (None: anything may have). Now, so that this process's next read sees the
    change, and again at commit, so that a process that reloaded in between, from
    rows not yet committed, reloads once more.
    """
    if fields is not None and RUN_STATE_FIELDS.issuperset(fields):
        return
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.set(DEFINITIONS_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # the copies are checked against the cache: none to bump
        logger.warning("Cannot bump the checks' version (%s)", type(exc).__name__)


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[URL_NAME])
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AlertState(models.TextChoices):
    UNKNOWN = "unknown"
    PASSING = "passing"
    FAILING = "failing"


class CheckQuerySet(models.QuerySet):
    def delete(self):
        """Deletes the checks' schedules too: a schedule must not outlive its check."""
        with transaction.atomic():
            tasks = list(self.exclude(periodic_task=None).values_list("periodic_task", flat=True))
            deleted = super().delete()
            schedules.remove(tasks)
            definitions_changed()
        return deleted

    def update(self, **values):
        rows = self._update_with_schedules(**values)
        definitions_changed(values)  # after the rows: a reload must not read them before
        return rows

    def _update_with_schedules(self, **values):
        if SCHEDULE_FIELDS.isdisjoint(values):
            return super().update(**values)
        with transaction.atomic():
            ids = list(self.values_list("pk", flat=True))  # before the filter may stop matching
            rows = super().update(**values)
            for check in self.model.objects.filter(pk__in=ids).select_related("periodic_task"):
                schedules.sync(check)
        return rows

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic():
            rows = super().bulk_update(objs, fields, *args, **kwargs)
            if not SCHEDULE_FIELDS.isdisjoint(fields):
                for check in objs:
                    schedules.sync(check)
            definitions_changed(fields)
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        definitions_changed()
        return created

    def enabled(self):
        return self.filter(enabled=True)

    def with_parents(self):
        """With the checks each one depends on (one query for all), for `blocked_by()`,
        `parent_keys()` and `get_info()`."""
        return self.prefetch_related(_parents_prefetch())

    def blocking_chains(self) -> dict[int, list["Check"]]:
        """{pk: [parent, grandparent, ...]} of the checks here that are blocked
        (`Check.blocked_by`): each parent blocked by the next, the last one the
        root cause. Two queries however many checks: those failing, their parents."""
        failing = {c.pk: c for c in self.filter(last_success=False).with_parents()}
        parents = {pk: check.blocked_by() for pk, check in failing.items()}
        chains = {}
        for pk, parent in parents.items():
            chain = []
            while parent is not None and parent not in chain:
                chain.append(parent)
                parent = parents.get(parent.pk)
            if chain:
                chains[pk] = chain
        return chains

    def with_tags(self, names):
        """Checks that have every tag in `names` (AND, as Telescope's `t1+t2`)."""
        queryset = self
        for name in names:
            queryset = queryset.filter(tags__name=name)
        return queryset.distinct()


class Check(models.Model):
    project = models.CharField(
        max_length=100, validators=[NameValidator(URL_FORBIDDEN, reserved=("tags",))]
    )
    name = models.CharField(max_length=100, validators=[URL_NAME])
    description = models.TextField(blank=True, help_text="Markdown.")
    module = models.CharField(
        max_length=200, help_text="Dotted path, such as checks.core.heartbeat."
    )
    params = models.JSONField(default=dict, blank=True)
    ttl = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds a result stays cached. Empty: DEFAULT_TTL. 0: never cached.",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="checks")
    plot = models.CharField(
        max_length=200,
        blank=True,
        help_text="Path of the value to plot in the data, such as .age_hours.",
    )
    enabled = models.BooleanField(default=True)
    schedule = models.CharField(
        max_length=100,
        blank=True,
        help_text=(
            "Empty: refreshed before its cached result expires. Or its own schedule: "
            "an interval (300, 30s, 5m, 1h) or a crontab (*/5 * * * *), in UTC."
        ),
    )
    failure_threshold = models.PositiveIntegerField(
        default=1, help_text="Alert after this many failures in a row."
    )
    depends_on = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="dependents",
        help_text=(
            "Checks this one depends on: while one of them fails, this check's failures "
            "are reported as blocked by it, and do not alert."
        ),
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Order of the check in its config file."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    # State, kept in the database so that restarts and cache expiries lose nothing.
    alert_state = models.CharField(
        max_length=10, choices=AlertState.choices, default=AlertState.UNKNOWN, editable=False
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    last_run_at = models.DateTimeField(null=True, editable=False)
    last_success = models.BooleanField(null=True, editable=False)
    # A crash (the check could not run, or its code raised) is a failure that
    # people must tell from the system failing: shown as "crashed".
    last_crashed = models.BooleanField(default=False, editable=False)
    last_scalar = models.FloatField(null=True, editable=False)
    next_refresh_at = models.DateTimeField(null=True, editable=False, db_index=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="audit_check",
    )

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_check")
        ]

    def __str__(self):
        return f"{self.project}/{self.name}"

    def save(self, *args, **kwargs):
        """Saved with its schedule, in one transaction: a schedule that cannot be
        written (an invalid one) saves nothing."""
        fields = kwargs.get("update_fields")
        if fields is not None and SCHEDULE_FIELDS.isdisjoint(fields):
            return super().save(*args, **kwargs)
        with transaction.atomic():
            super().save(*args, **kwargs)
            schedules.sync(self)

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            schedules.remove([self.periodic_task_id])
        return deleted

    @property
    def check_module(self) -> checkmodules.CheckModule:
        return checkmodules.load(self.module)

    def get_ttl(self) -> int:
        return self.ttl_or_default(self.ttl)

    @staticmethod
    def ttl_or_default(ttl: int | None) -> int:
        """The TTL of a check whose `ttl` field is `ttl` (for rows read as values)."""
        return settings.DEFAULT_TTL if ttl is None else ttl

    def get_plot_path(self, module: checkmodules.CheckModule | None = None) -> str | None:
        """`plot`, else the module's DEFAULT_PLOT; `module` when the caller has it."""
        if self.plot:
            return self.plot
        try:
            return (module or self.check_module).default_plot
        except checkmodules.ModuleError:
            return None

    def get_absolute_url(self) -> str:
        return reverse("audits:check", args=[self.project, self.name])

    def tag_names(self) -> list[str]:
        return sorted(tag.name for tag in self.tags.all())

    def exposed_parameters(self, overrides: dict | None = None) -> dict:
        """The parameters users may see: the module's EXPOSED_PARAMETERS, unresolved,
        with the values a run took from the URL (`overrides`) in place of the stored ones."""
        try:
            exposed = self.check_module.exposed_parameters
        except checkmodules.ModuleError:
            return {}
        return {k: v for k, v in {**self.params, **(overrides or {})}.items() if k in exposed}

    def documentation(self) -> str:
        try:
            return self.check_module.documentation
        except checkmodules.ModuleError as exc:  # shown, so that someone fixes it
            return f"This check's module is unavailable: {exc}"

    @sensitive_variables("resolved", "secrets")  # never on an error page
    def runtime_params(self, overrides: dict | None = None, secrets=None, module=None) -> dict:
        """Parameters ready for `run()`: placeholders resolved, values cast.
        `module`: the check's module, when the caller has loaded it already."""
        resolved = placeholders.resolve(self.params, secrets=secrets)
        resolved.update(overrides or {})
        return params.validate(module or self.check_module, resolved, allow_placeholders=False)

    def troubleshooting_url(self) -> str:
        return settings.TROUBLESHOOTING_LINK_TEMPLATE.format(
            project=self.project, check=self.name
        )

    # Dependencies.

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"

    def parent_keys(self) -> list[str]:
        """The keys (`project/name`) of the checks this one depends on, sorted."""
        return sorted(parent.key for parent in self.depends_on.all())

    def blocked_by(self, success: bool | None = None, outcomes: dict | None = None):
        """
        While this check fails, the first (by key) enabled check it depends on that
        fails too: this check's failure is that one's consequence, reported as
        "blocked by <key>", and it does not alert. None when this check passes, or
        when none of its parents fails.

        `success`: this check's outcome (by default its last run's); `outcomes`:
        {pk: success} of runs newer than the stored states (a batch that ran a
        parent with its child). Prefetch the parents (`with_parents()`,
        `prefetch_parents()`) to make it cost no query.
        """
        success = self.last_success if success is None else success
        if success is not False:
            return None
        outcomes = outcomes or {}
        parents = sorted((p for p in self.depends_on.all() if p.enabled), key=lambda p: p.key)
        return next((p for p in parents if outcomes.get(p.pk, p.last_success) is False), None)

    def dependency_problem(self, parents) -> str | None:
        """Why this check may not depend on `parents` (checks), or None: itself, or a
        cycle through the stored dependencies (a parent that depends on this check)."""
        if self.pk is None:
            return None  # nothing stored depends on a check not yet stored
        if any(parent.pk == self.pk for parent in parents):
            return "a check cannot depend on itself"
        graph: dict[int, list[int]] = {}
        for child, parent in Check.depends_on.through.objects.values_list(
            "from_check_id", "to_check_id"
        ):
            graph.setdefault(child, []).append(parent)
        graph[self.pk] = [parent.pk for parent in parents]
        cycle = dependency_cycle(graph, through=self.pk)
        if not cycle:
            return None
        rows = Check.objects.filter(pk__in=cycle).values_list("pk", "project", "name")
        keys = {pk: f"{project}/{name}" for pk, project, name in rows}
        shown = [self.key if pk == self.pk else keys[pk] for pk in cycle]
        return f"a cycle: {' → '.join(shown)}"

    def get_info(self, overrides: dict | None = None) -> dict:
        """Telescope's description of a check, without running it (`overrides`: the
        parameters a run took from the URL)."""
        return {
            "name": self.name,
            "project": self.project,
            "module": self.module,
            "tags": self.tag_names(),
            "description": self.description,
            "documentation": self.documentation(),
            "url": self.get_absolute_url(),
            "ttl": self.get_ttl(),
            "parameters": self.exposed_parameters(overrides),
            "troubleshooting": self.troubleshooting_url(),
            "depends_on": self.parent_keys(),
        }


def _parents_prefetch() -> Prefetch:
    return Prefetch("depends_on", queryset=Check.objects.order_by("project", "name"))


def prefetch_parents(checks, outcomes: dict | None = None) -> None:
    """
    Load the parents of `checks` (instances) in one query, afresh (their states
    may have changed since the checks were read). A parent whose run is in
    `outcomes` ({pk: success}) takes that outcome: a batch that ran a parent with
    its child judges the child by the parent's new result, whatever the order the
    states are stored in.
    """
    checks = list(checks)
    for check in checks:
        getattr(check, "_prefetched_objects_cache", {}).pop("depends_on", None)
    prefetch_related_objects(checks, _parents_prefetch())
    for check in checks:
        for parent in check.depends_on.all():
            if outcomes and parent.pk in outcomes:
                parent.last_success = outcomes[parent.pk]


def stored_dependencies() -> dict[str, list[str]]:
    """{key: [keys it depends on]} of every stored check that depends on another."""
    edges = Check.depends_on.through.objects.values_list(
        "from_check__project", "from_check__name", "to_check__project", "to_check__name"
    )
    graph: dict[str, list[str]] = {}
    for project, name, parent_project, parent_name in edges:
        graph.setdefault(f"{project}/{name}", []).append(f"{parent_project}/{parent_name}")
    return graph


def dependency_cycle(graph: dict, through=None) -> list | None:
    """A cycle of `graph` ({node: [nodes it depends on]}) as [a, b, ..., a], or
    None; `through`: only a cycle through that node (the others are not looked for)."""
    done: set = set()
    for start in [through] if through is not None else sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph.get(start, ())))]
        while stack:
            node = next(stack[-1], None)
            if node is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if node in on_path:
                return path[path.index(node):] + [node]
            if node in done:
                continue
            path.append(node)
            on_path.add(node)
            stack.append(iter(sorted(graph.get(node, ()))))
    return None


class CheckRun(models.Model):
    """One run of a check, as it happened. Pruned after HISTORY_DAYS."""

    # Not "check": that name is taken by Django's Model.check().
    audit_check = models.ForeignKey(
        Check, on_delete=models.CASCADE, related_name="runs", db_column="check_id"
    )
    started_at = models.DateTimeField()
    scheduled_for = models.DateTimeField(
        null=True, help_text="When a scheduled refresh was due (lag = started_at - this)."
    )
    success = models.BooleanField()
    crashed = models.BooleanField(default=False)
    duration = models.PositiveIntegerField(help_text="Milliseconds.")
    scalar = models.FloatField(null=True, help_text="The value at the check's plot path.")
    data = models.JSONField(null=True)
    # False when success and scalar equal the previous run's: history skips it.
    is_change = models.BooleanField(default=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["audit_check", "-started_at"], name="run_check_latest"),
            models.Index(fields=["started_at"], name="run_started"),
        ]

    def __str__(self):
        return f"{self.audit_check_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


def _saved(sender, update_fields=None, **kwargs):
    definitions_changed(update_fields)


def _changed(sender, action=None, **kwargs):
    if action in (None, "post_add", "post_remove", "post_clear"):
        definitions_changed()


# Signals, so that no caller can forget it: admin, import, shell, tests.
for _model in (Check, Tag):
    post_save.connect(_saved, sender=_model, dispatch_uid=f"definitions-saved-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"definitions-deleted-{_model.__name__}")
m2m_changed.connect(_changed, sender=Check.tags.through, dispatch_uid="definitions-tags")
m2m_changed.connect(_changed, sender=Check.depends_on.through, dispatch_uid="definitions-depends-on")
