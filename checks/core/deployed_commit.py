"""
The deployed commit should be the head of the branch of the GitHub repository.

The `commit` of `{server}/__version__` (see Dockerflow) is compared with the SHA of
the latest commit of `branch`. The check also passes while that head commit is
younger than `lag_margin_seconds`, to leave time for the deployment.

The data is:

```json
{
  "latest_commit": {"sha": "…", "author": "login", "message": "first line", "date": "…"},
  "deployed_commit": "…"
}
```

or `{"error": "…"}` when either side could not be read.

Parameters:

* `server` (string): the root URL of the service (without `/__version__`).
* `repo` (string): the GitHub repository, `owner/name`.
* `branch` (string, default `"main"`): the deployed branch.
* `lag_margin_seconds` (integer, default `3600`): how long a new head may wait
  to be deployed.

Example:

```toml
[checks.myproject.commit]
description = "The head of main is deployed on stage."
module = "checks.core.deployed_commit"
params.server = "https://stage.myproject.example.com"
params.repo = "mozilla-services/myproject"
params.branch = "main"
```
"""

from datetime import datetime, timezone
from typing import Any

from checks import github, http

EXPOSED_PARAMETERS = ["server", "repo", "branch", "lag_margin_seconds"]
URL_PARAMETERS: list[str] = []


def run(
    server: str, repo: str, branch: str = "main", lag_margin_seconds: int = 3600
) -> tuple[bool, Any]:
    try:
        deployed_commit = _deployed_commit(server)
        latest = github.branch_head(repo, branch)
        age = datetime.now(timezone.utc) - github.parse_timestamp(latest["date"])
    except (http.HTTPError, ValueError) as exc:
        return False, {"error": str(exc)}
    success = deployed_commit == latest["sha"] or age.total_seconds() < lag_margin_seconds
    return success, {"latest_commit": latest, "deployed_commit": deployed_commit}


def _deployed_commit(server: str) -> str:
    version = http.fetch_json(server.rstrip("/") + "/__version__")
    if not isinstance(version, dict) or not isinstance(version.get("commit"), str):
        raise http.HTTPError("No 'commit' string in the __version__ document")
    return version["commit"]
