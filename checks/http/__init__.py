"""
The service's one outbound HTTP client: checks, scrapes, Bugzilla and webhooks.

Every outbound request goes through `fetch()` (or `fetch_json()` /
`fetch_text()`), so that the policy lives in one place (`checks.http.client`):
connect and read timeouts and a total deadline, a response size cap, retries
only where they are safe, a concurrency `Limit` per kind of caller, no custom
header carried to another host on a redirect. Failures raise one exception,
`HTTPError`, in one wording (`timed out after 10 s`, `connection refused`,
`response over 10 MB`, `HTTP 503`) that never holds credentials
(`checks.http.wording`).

Like all of `checks/`, it does not import Django: the service configures it
through `checks.config.configure()`.
"""

from checks.http.answers import fetch_json, fetch_text, raise_for_status, response_json, response_text
from checks.http.client import REQUESTS, Limit, fetch
from checks.http.wording import CLOSED_WITHOUT_ANSWER, HTTPError, chain_has, exception_chain, safe_url

__all__ = [
    "CLOSED_WITHOUT_ANSWER",
    "HTTPError",
    "Limit",
    "REQUESTS",
    "chain_has",
    "exception_chain",
    "fetch",
    "fetch_json",
    "fetch_text",
    "raise_for_status",
    "response_json",
    "response_text",
    "safe_url",
]
