"""
A small GitHub REST API client for the checks, over `checks.http`.

The base URL is `checks.config.current.github_api_url` (so tests and GitHub
Enterprise can point it elsewhere); when `github_token` is set, it is sent as
`Authorization: token <github_token>`, and only to that base URL: pagination
refuses `Link` URLs on another origin rather than leak the token there.

Errors (network, non-2xx, rate limit, unexpected JSON) raise `checks.http.HTTPError`.
"""

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from checks import config, http

# A runaway `Link: rel="next"` chain must not keep a check busy forever.
MAX_PAGES = 50


def fetch_json(path: str, *, params: dict | None = None) -> Any:
    """The JSON of `GET {github_api_url}/{path}`."""
    return http.response_json(_get(api_url(path), params))


def fetch_all(path: str, *, params: dict | None = None) -> list:
    """Every item of a paginated list, following `Link: rel="next"` headers."""
    items: list = []
    target = api_url(path)
    for _ in range(MAX_PAGES):
        response = _get(target, params)
        items.extend(_as_list(http.response_json(response), target))
        target = response.links.get("next", {}).get("url")
        if not target:
            return items
        _check_same_origin(target)
        params = None  # the next URL already carries the query string.
    raise http.HTTPError(f"GitHub: more than {MAX_PAGES} pages at {path}")


def branch_head(repo: str, branch: str) -> dict:
    """`{sha, author, message (first line), date}` of the head of a branch."""
    details = fetch_json(f"repos/{repo}/branches/{branch}")
    try:
        commit = details["commit"]
        return {
            "sha": commit["sha"],
            "author": _author(commit),
            "message": (commit["commit"]["message"].splitlines() or [""])[0],
            "date": commit["commit"]["author"]["date"],
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise http.HTTPError(f"GitHub: unexpected answer for {repo}@{branch}: missing {exc}")


def parse_timestamp(value: str) -> datetime:
    """A GitHub ISO 8601 timestamp (`2024-01-31T12:00:00Z`) as an aware datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def api_url(path: str) -> str:
    return config.current.github_api_url.rstrip("/") + "/" + path.lstrip("/")


def _get(target: str, params: dict | None):
    response = http.fetch("GET", target, headers=_headers(), params=params)
    if _rate_limited(response):
        reset = response.headers.get("X-RateLimit-Reset", "?")
        raise http.HTTPError(
            f"GitHub API rate limit exceeded (resets at epoch {reset}); "
            "configure a GitHub token to raise it",
            url=http.safe_url(target),
            status=response.status_code,
        )
    http.raise_for_status(response)
    return response


def _headers() -> dict:
    headers = {"Accept": "application/vnd.github+json"}
    if config.current.github_token:
        headers["Authorization"] = f"token {config.current.github_token}"
    return headers


def _rate_limited(response) -> bool:
    exhausted = response.headers.get("X-RateLimit-Remaining") == "0"
    return response.status_code in (403, 429) and exhausted


def _check_same_origin(target: str) -> None:
    base, other = urlsplit(api_url("")), urlsplit(target)
    if (base.scheme, base.netloc) != (other.scheme, other.netloc):
        raise http.HTTPError(f"GitHub: refusing to follow a page link to {http.safe_url(target)}")


def _as_list(page: Any, target: str) -> list:
    if not isinstance(page, list):
        raise http.HTTPError(f"GitHub: expected a list from {http.safe_url(target)}")
    return page


def _author(commit: dict) -> str:
    # `author` is null when the commit email is not linked to a GitHub account.
    return (commit.get("author") or {}).get("login") or commit["commit"]["author"]["name"]
