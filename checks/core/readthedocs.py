"""
The latest ReadTheDocs build should be of the head of the GitHub branch.

The commit of the latest build is read from the project's builds page on
ReadTheDocs (the first of the five most recent rows that links to a commit),
and compared with the head of `branch` on GitHub. The check also passes while
that head commit is younger than `lag_margin_seconds`, to leave time for a build.

The data is `{"github": {"latest_sha": …}, "readthedocs": {"latest_build": …}}`,
or `{"error": "…"}` when either side could not be read.

Parameters:

* `repo` (string): the GitHub repository, `owner/name`.
* `rtd_slug` (string): the ReadTheDocs project slug.
* `rtd_token` (string, default `""`): unused, accepted for compatibility.
* `branch` (string, default `"main"`): the documented branch.
* `lag_margin_seconds` (integer, default `3600`): how long a new head may wait to
  be built.

Example:

```toml
[checks.myproject.docs]
description = "The documentation is up to date."
module = "checks.core.readthedocs"
params.repo = "mozilla-services/myproject"
params.rtd_slug = "myproject"
```
"""

from datetime import datetime, timezone
from typing import Any

from bs4 import BeautifulSoup

from checks import github, http

EXPOSED_PARAMETERS = ["repo", "rtd_slug"]
URL_PARAMETERS: list[str] = []

# Read at call time, so that tests can point it at a local server.
READTHEDOCS_URL = "https://app.readthedocs.org"

# Only recent rows: an old build of the right commit says nothing of today.
ROWS_TO_SCAN = 5


def run(
    repo: str,
    rtd_slug: str,
    rtd_token: str = "",
    branch: str = "main",
    lag_margin_seconds: int = 3600,
) -> tuple[bool, Any]:
    try:
        latest_build = _latest_build_commit(rtd_slug)
        head = github.branch_head(repo, branch)
        age = datetime.now(timezone.utc) - github.parse_timestamp(head["date"])
    except (http.HTTPError, ValueError) as exc:
        return False, {"error": str(exc)}
    success = latest_build == head["sha"] or age.total_seconds() < lag_margin_seconds
    return success, {
        "github": {"latest_sha": head["sha"]},
        "readthedocs": {"latest_build": latest_build},
    }


def _latest_build_commit(rtd_slug: str) -> str:
    page = http.fetch_text(f"{READTHEDOCS_URL.rstrip('/')}/projects/{rtd_slug}/builds/")
    table = BeautifulSoup(page, "html.parser").find("table")
    if table is None:
        raise ValueError("Could not find the builds table on the ReadTheDocs page")
    for row in table.find_all("tr")[:ROWS_TO_SCAN]:
        commits = [_commit_of(a.get("href", "")) for a in row.find_all("a")]
        if found := next(filter(None, commits), None):
            return found
    raise ValueError("Could not find a build commit in the latest ReadTheDocs builds")


def _commit_of(href: str) -> str:
    # e.g. https://github.com/owner/repo/commit/<sha>
    _, marker, rest = str(href).partition("/commit/")
    return rest.split("/")[0].split("?")[0].split("#")[0] if marker else ""
