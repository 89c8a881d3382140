"""
The enabled checks, kept in memory by each process: what the API reads on every
request without a query.

`current()` answers this process's copy while the definitions version in the
cache is the one it was loaded at, and reloads it (three queries: the checks,
their tags and the checks they depend on) when the version moved. Every change
to a check or a tag bumps the version, whoever makes it and in whichever process (`audits.models`: save,
delete, bulk update and create, tags, the import and the admin all go through
them), so that every process reloads on its next request. When the cache is down
nothing can be trusted to be current: each call then reads the database.

The copies are shared by the threads of the process and are never written to nor
saved: what a run writes (its state) goes to fresh rows (`audits.runner`).
`memoized()` keeps what is derived from a copy (its description, its cache key)
with it, so that it is derived once per version, never per request.
"""

import logging
import os
import threading
import uuid
from dataclasses import dataclass, field

from django.core.cache import cache

from audits.models import DEFINITIONS_VERSION_KEY, Check, definitions_version

logger = logging.getLogger(__name__)

MEMO = "_definitions_memo"  # the attribute of a shared copy that holds what is derived


@dataclass(frozen=True)
class Definitions:
    """The enabled checks at `version`, in the API's order (position, id)."""

    version: str | None
    checks: tuple[Check, ...]
    by_name: dict[tuple[str, str], Check] = field(repr=False)
    by_project: dict[str, list[Check]] = field(repr=False)

    @classmethod
    def of(cls, version: str | None, checks) -> "Definitions":
        checks = tuple(checks)
        by_project: dict[str, list[Check]] = {}
        for check in checks:
            check.__dict__[MEMO] = {}
            by_project.setdefault(check.project, []).append(check)
        by_name = {(check.project, check.name): check for check in checks}
        return cls(version, checks, by_name, by_project)

    def check(self, project: str, name: str) -> Check | None:
        return self.by_name.get((project, name))

    def project(self, project: str) -> list[Check]:
        return self.by_project.get(project, [])

    def with_tags(self, names) -> list[Check]:
        """The checks that have every tag in `names` (AND, as Telescope's `a+b`)."""
        wanted = set(names)
        return [c for c in self.checks if wanted <= set(memoized(c, "tags", c.tag_names))]


def current() -> Definitions:
    """The enabled checks as they are now: this process's copy, reloaded if stale."""
    version = definitions_version()
    loaded = _loaded
    if loaded is not None and version is not None and loaded.version == version:
        return loaded
    return _reload(version)


def loaded() -> Definitions | None:
    """This process's copy as it is, maybe stale: for a caller that compares its
    version with the cache's itself (the cached answers, `audits.api.cached`)."""
    return _loaded


def memoized(check: Check, name: str, compute):
    """`compute()`, kept with `check` when it is a shared copy (computed again
    otherwise: a row read by the caller may be changed by it)."""
    memo = check.__dict__.get(MEMO)
    if memo is None:
        return compute()
    try:
        return memo[name]
    except KeyError:
        value = memo[name] = compute()  # two threads may both compute it: same value
        return value


def _reload(version: str | None) -> Definitions:
    global _loaded
    with _reload_lock:  # one reload at a time: the others then find it done
        if version is None:
            version = _new_version()
        elif _loaded is not None and _loaded.version == version:
            return _loaded
        # The version is read before the rows: a change committed after this read
        # bumps it again, and the next call reloads.
        definitions = Definitions.of(version, Check.objects.enabled().prefetch_related("tags").with_parents())
        if version is not None:
            _loaded = definitions
        return definitions


def _new_version() -> str | None:
    """The version, set when the cache has none (cleared, evicted, restarted);
    None when the cache is down."""
    try:
        cache.add(DEFINITIONS_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        return cache.get(DEFINITIONS_VERSION_KEY)
    except Exception as exc:  # redis-py raises many types
        logger.warning("Cache unavailable (%s); checks read from the database",
                       type(exc).__name__)
        return None


def _forget_after_fork() -> None:
    global _reload_lock
    _reload_lock = threading.Lock()


_loaded: Definitions | None = None
_reload_lock = threading.Lock()
os.register_at_fork(after_in_child=_forget_after_fork)
