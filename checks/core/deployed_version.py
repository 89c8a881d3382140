"""
The deployed version should be the latest release of the GitHub repository.

The `version` of `{server}/__version__` (see Dockerflow) is compared with the
`tag_name` of the repository's latest GitHub release. A version that only adds a
`-suffix` to the tag passes: `v2.1.0-2-gabc123` is the release `v2.1.0`, but
`v2.1.01` is not.

The data is `{"latest_tag": …, "deployed_version": …}`, or `{"error": "…"}` when
either side could not be read.

Parameters:

* `server` (string): the root URL of the service (without `/__version__`).
* `repo` (string): the GitHub repository, `owner/name`.

Example:

```toml
[checks.myproject.version]
description = "The latest release is deployed."
module = "checks.core.deployed_version"
params.server = "https://myproject.example.com"
params.repo = "mozilla-services/myproject"
```
"""

from typing import Any

from checks import github, http

EXPOSED_PARAMETERS = ["server", "repo"]
URL_PARAMETERS: list[str] = []


def run(server: str, repo: str) -> tuple[bool, Any]:
    try:
        deployed_version = _deployed_version(server)
        latest_tag = _latest_tag(repo)
    except http.HTTPError as exc:
        return False, {"error": str(exc)}
    # The "-" stops "v1.10" from matching the tag "v1.1".
    success = f"{deployed_version}-".startswith(f"{latest_tag}-")
    return success, {"latest_tag": latest_tag, "deployed_version": deployed_version}


def _deployed_version(server: str) -> str:
    document = http.fetch_json(server.rstrip("/") + "/__version__")
    return _string_field(document, "version", "__version__")


def _latest_tag(repo: str) -> str:
    document = github.fetch_json(f"repos/{repo}/releases/latest")
    return _string_field(document, "tag_name", "latest release")


def _string_field(document: Any, name: str, source: str) -> str:
    if not isinstance(document, dict) or not isinstance(document.get(name), str):
        raise http.HTTPError(f"No {name!r} string in the {source} document")
    return document[name]
