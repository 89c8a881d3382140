"""
The Bugzilla REST client: one search, its answer checked before anyone trusts it.

`search()` sends `GET {base}/rest/bug?whiteboard=...&include_fields=...` through
`checks.http.fetch` (the service's one HTTP client: its timeouts, deadline, size
cap, retries, User-Agent and error wording), with the API key in
`X-BUGZILLA-API-KEY` when there is one (never sent on to another host by a
redirect), and returns `Bug`s. Anything else than
a 2xx JSON object whose `bugs` is a list of well-formed bugs raises `BugzillaError`,
so that a tracker answering garbage never replaces the last good list. Error
messages never hold the API key.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from checks import http

API_KEY_HEADER = "X-BUGZILLA-API-KEY"
INCLUDE_FIELDS = "id,summary,status,is_open,last_change_time,whiteboard,groups"
CLOSED_STATUSES = {"RESOLVED", "VERIFIED", "CLOSED"}


class BugzillaError(Exception):
    """The search failed or answered something unusable; the message is safe to log."""


@dataclass(frozen=True)
class Bug:
    id: int
    summary: str  # "" when restricted: a confidential summary is never kept
    status: str
    is_open: bool
    last_change_time: datetime | None
    whiteboard: str
    restricted: bool  # in at least one Bugzilla group


def search(base_url: str, whiteboard: str, api_key: str = "", timeout=None) -> list[Bug]:
    """The bugs whose whiteboard contains `whiteboard` (Bugzilla: a substring)."""
    url = f"{base_url.rstrip('/')}/rest/bug"
    headers = {"Accept": "application/json"}
    if api_key:
        headers[API_KEY_HEADER] = api_key
    params = {"whiteboard": whiteboard, "include_fields": INCLUDE_FIELDS}
    kwargs = {"timeout": timeout} if timeout is not None else {}
    try:
        response = http.fetch("GET", url, params=params, headers=headers, **kwargs)
        http.raise_for_status(response)
        payload = http.response_json(response)
    except http.HTTPError as exc:
        raise BugzillaError(_hide(str(exc), api_key)) from None
    try:
        return parse(payload)
    except BugzillaError as exc:
        raise BugzillaError(_hide(f"{http.safe_url(url)}: {exc}", api_key)) from None


def parse(payload) -> list[Bug]:
    """The bugs of a search answer; `BugzillaError` unless every one is well-formed."""
    if not isinstance(payload, dict):
        raise BugzillaError(f"the answer is a JSON {type(payload).__name__}, not an object")
    if payload.get("error"):
        code = payload.get("code")
        raise BugzillaError(f"Bugzilla answered an error (code {code!r})")
    bugs = payload.get("bugs")
    if not isinstance(bugs, list):
        raise BugzillaError("the answer has no list of bugs")
    return [_bug(item, position) for position, item in enumerate(bugs)]


def _bug(item, position: int) -> Bug:
    if not isinstance(item, dict):
        raise BugzillaError(f"bug #{position} is not an object")
    bug_id = item.get("id")
    if not isinstance(bug_id, int) or isinstance(bug_id, bool) or bug_id <= 0:
        raise BugzillaError(f"bug #{position} has no valid id")
    groups = item.get("groups") or []
    if not isinstance(groups, list):
        raise BugzillaError(f"bug {bug_id}: groups is not a list")
    restricted = bool(groups)
    status = _text(item, "status", bug_id)
    is_open = item.get("is_open")
    if is_open is None:
        is_open = status.upper() not in CLOSED_STATUSES
    elif not isinstance(is_open, bool):
        raise BugzillaError(f"bug {bug_id}: is_open is not a boolean")
    summary = _text(item, "summary", bug_id)
    return Bug(
        id=bug_id,
        summary="" if restricted else summary,
        status=status[:50],
        is_open=is_open,
        last_change_time=_time(item.get("last_change_time"), bug_id),
        whiteboard=_text(item, "whiteboard", bug_id),
        restricted=restricted,
    )


def _text(item: dict, name: str, bug_id: int) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BugzillaError(f"bug {bug_id}: {name} is not a string")
    return value


def _time(value, bug_id: int) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BugzillaError(f"bug {bug_id}: last_change_time is not an ISO 8601 UTC time")
    return parsed


def _hide(message: str, api_key: str) -> str:
    # checks.http already masks the values of the headers it sent; this is the belt.
    return message.replace(api_key, "***") if api_key else message
