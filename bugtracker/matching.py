"""
Which known bugs concern a check or an error group, as the `buglist` entries
Telescope returns.

A bug concerns check `project/name` when its whiteboard holds the token
`project/name` as a whole word, or when it is linked to the check in admin. An
error group's token is `errors:<service>/<aggregation_key>`. A token is whole when
it is neither preceded nor followed by anything else than the start or end of the
whiteboard, white space or one of `[](){}<>,;|"'`: `[telescope prod p/x]`,
`p/x, p/y` and `p/x` name `p/x`, but `p/x-2` and `p/x.y` do not (Telescope's
substring match attached `p/x` bugs to `p/x-2`). Only the ends of the token are
checked, so aggregation keys holding spaces or brackets match too.

Entries: `{id, summary, open, status, last_update, heat, url}`, open bugs first,
then the most recently changed first. `id` is Bugzilla's number (an int); a manual
bug's reference is an int when it is a number, a string otherwise. `summary` is ""
for confidential bugs. `last_update` is ISO 8601 UTC (`2024-05-01T12:00:00Z`) or
null for a manual bug without a date. `url` is `{BUGTRACKER_URL}/{id}` for Bugzilla
bugs and the stored URL for manual ones.

Each function makes one query, whatever the number of checks, and first asks for
a sync if the last one is stale (see `bugtracker.tasks`; it never waits for it).
Bugzilla bugs are shown only while Bugzilla is configured and the last successful
sync returned them.
"""

import re
from datetime import UTC, datetime
from functools import lru_cache

from django.db.models import Q
from django.utils import timezone

from bugtracker import tasks
from bugtracker.models import KnownBug, heat

DELIMITERS = r"\s\[\](){}<>,;|\"'"
FIELDS = ("pk", "tracker", "bug_id", "url", "summary", "status", "is_open",
          "last_change_time", "confidential", "restricted", "whiteboard")


def check_token(project: str, name: str) -> str:
    return f"{project}/{name}"


def error_group_token(service: str, aggregation_key: str) -> str:
    return f"errors:{service}/{aggregation_key}"


@lru_cache(maxsize=4096)
def _pattern(token: str) -> re.Pattern:
    return re.compile(rf"(?<![^{DELIMITERS}]){re.escape(token)}(?![^{DELIMITERS}])")


def has_token(whiteboard: str, token: str) -> bool:
    """Whether `token` is a whole word of `whiteboard`."""
    return bool(token) and token in whiteboard and bool(_pattern(token).search(whiteboard))


def buglists_for_checks(checks, now=None) -> dict:
    """`{check.pk: [entry, ...]}` for every check, in one query."""
    checks = list(checks)
    result = {check.pk: [] for check in checks}
    if not checks:
        return result
    tasks.request_sync_if_stale()
    projects = sorted({check.project for check in checks})
    condition = Q(checks__in=list(result))
    for project in projects:
        condition |= Q(whiteboard__contains=f"{project}/")
    bugs, links = _bugs_and_links(condition, "checks")
    for check in checks:
        token = check_token(check.project, check.name)
        mine = [
            bug for bug in bugs.values()
            if check.pk in links[bug["pk"]] or has_token(bug["whiteboard"], token)
        ]
        result[check.pk] = entries(mine, now)
    return result


def buglist_for_error_group(group, now=None) -> list[dict]:
    """The entries of the bugs about one error group, in one query."""
    tasks.request_sync_if_stale()
    token = error_group_token(group.service.name, group.aggregation_key)
    condition = Q(error_groups=group.pk) | Q(whiteboard__contains=token)
    bugs, links = _bugs_and_links(condition, "error_groups")
    mine = [
        bug for bug in bugs.values()
        if group.pk in links[bug["pk"]] or has_token(bug["whiteboard"], token)
    ]
    return entries(mine, now)


def _bugs_and_links(condition: Q, relation: str) -> tuple[dict, dict]:
    """The visible bugs matching `condition` by pk, and the ids of the objects
    each is linked to through `relation`, from one query (a row per link)."""
    rows = KnownBug.objects.visible().filter(condition).values(*FIELDS, relation).order_by()
    bugs, links = {}, {}
    for row in rows:
        linked = row.pop(relation)
        bugs.setdefault(row["pk"], row)
        links.setdefault(row["pk"], set())
        if linked is not None:
            links[row["pk"]].add(linked)
    return bugs, links


def entries(bugs, now=None) -> list[dict]:
    """Telescope's buglist entries of `bugs` (KnownBugs or value dicts), sorted."""
    now = now or timezone.now()
    rows = [_as_dict(bug) for bug in bugs]
    rows.sort(key=_order, reverse=True)
    return [_entry(row, now) for row in rows]


def _as_dict(bug) -> dict:
    if isinstance(bug, dict):
        return bug
    return {field: getattr(bug, field) for field in FIELDS}


def _order(row: dict) -> tuple:
    changed = row["last_change_time"]
    return (row["is_open"], changed is not None, changed or datetime.min.replace(tzinfo=UTC),
            row["pk"])


def _entry(row: dict, now) -> dict:
    bug = KnownBug(**{("id" if k == "pk" else k): v for k, v in row.items()})
    changed = row["last_change_time"]
    return {
        "id": int(bug.bug_id) if bug.bug_id.isascii() and bug.bug_id.isdigit() else bug.bug_id,
        "summary": bug.public_summary,
        "open": bug.is_open,
        "status": bug.status,
        "last_update": changed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if changed else None,
        "heat": heat(changed, now),
        "url": bug.get_url(),
    }
