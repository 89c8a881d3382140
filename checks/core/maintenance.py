"""
The GitHub repositories should not have too many stale open pull requests.

For each repository, the open pull requests are listed (all pages), leaving out
drafts and those with a label of `ignore_with_labels`. The check fails when, in
any repository:

* a pull request has had no activity (update or comment) for more than
  `max_days_last_activity` days, or
* more than `max_opened_pulls` pull requests have had no activity for more than
  `min_days_last_activity` days ("old" pull requests).

The data gives, for each repository with open pull requests, the number of old
ones and the total, repositories with the most old pull requests first:
`{"owner/repo": {"pulls": {"old": 2, "total": 5}}}`. A repository that could not
be read fails the check and shows `{"error": "…"}`, first.

Set a GitHub token in the service configuration to avoid the API rate limit.

Parameters:

* `repositories` (list of strings): `owner/name` of each repository.
* `max_opened_pulls` (integer, default `7`): how many old pull requests are tolerated.
* `min_days_last_activity` (integer, default `7`): days without activity that make
  a pull request old.
* `max_days_last_activity` (integer, default `45`): days without activity that no
  pull request may exceed.
* `ignore_with_labels` (list of strings, default `["blocked"]`): labels that
  exclude a pull request.

Example:

```toml
[checks.myproject.maintenance]
description = "Pull requests get reviewed."
module = "checks.core.maintenance"
params.repositories = ["mozilla-services/myproject", "mozilla-services/myproject-ui"]
params.max_opened_pulls = 5
```
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from checks import github, http

EXPOSED_PARAMETERS = ["max_days_last_activity", "min_days_last_activity", "max_opened_pulls"]
URL_PARAMETERS: list[str] = []

# Enough to overlap network waits; the global request limit still applies.
MAX_WORKERS = 8


def run(
    repositories: list[str],
    max_opened_pulls: int = 7,
    min_days_last_activity: int = 7,
    max_days_last_activity: int = 45,
    ignore_with_labels: list[str] = ["blocked"],  # noqa: B006 (never mutated)
) -> tuple[bool, Any]:
    def inspect(repo: str) -> tuple[bool, dict | None]:
        try:
            ages = _inactivity_days(repo, set(ignore_with_labels))
        except (http.HTTPError, KeyError, TypeError, ValueError) as exc:
            return False, {"error": _explain(exc)}
        return _judge(ages, max_opened_pulls, min_days_last_activity, max_days_last_activity)

    with ThreadPoolExecutor(max_workers=max(1, min(len(repositories), MAX_WORKERS))) as pool:
        results = dict(zip(repositories, pool.map(inspect, repositories)))
    infos = {repo: info for repo, (_, info) in results.items() if info is not None}
    return all(ok for ok, _ in results.values()), dict(sorted(infos.items(), key=_urgency))


def _inactivity_days(repo: str, ignored_labels: set[str]) -> list[int]:
    """Days since the last activity of each open pull request that counts."""
    pulls = github.fetch_all(f"repos/{repo}/pulls", params={"state": "open", "per_page": 100})
    now = datetime.now(timezone.utc)
    return [
        (now - github.parse_timestamp(pull["updated_at"])).days
        for pull in pulls
        if not pull.get("draft") and ignored_labels.isdisjoint(_labels(pull))
    ]


def _judge(ages: list[int], max_opened: int, min_days: int, max_days: int):
    if not ages:
        return True, None  # nothing to report for this repository
    old = [age for age in ages if age > min_days]
    success = max(ages) <= max_days and len(old) <= max_opened
    return success, {"pulls": {"old": len(old), "total": len(ages)}}


def _labels(pull: dict) -> set[str]:
    return {label["name"] for label in pull.get("labels") or []}


def _urgency(item: tuple[str, dict]) -> tuple[bool, int]:
    # Unreadable repositories first, then the most old pull requests.
    _, info = item
    return ("error" not in info, -info.get("pulls", {}).get("old", 0))


def _explain(exc: Exception) -> str:
    if isinstance(exc, http.HTTPError):
        return str(exc)
    return f"Unexpected pull request data from GitHub ({type(exc).__name__}: {exc})"
