"""
`${VAR}` placeholders in check parameters and in the request headers of errors
services: kept as written, resolved at run (or scrape) time.

Values are stored exactly as the config wrote them, so the database, the admin
and the API only ever hold `${API_TOKEN}`, never the token. `resolve()` substitutes
the environment at run time (any number of placeholders per string, in nested
tables and in lists) and returns what it substituted, so `redact()` can take the
secrets back out of whatever the check returns (or the scrape reports) before it is
cached or shown.

Every value resolved in this process is also kept in a process-wide registry
(`resolved_values()`), which the log filter and the error pages
(`foundation.log_redaction`) take out of every line and page: a library that logs
a URL, or an exception that quotes one, never shows what a placeholder held.
"""

import os
import re
import threading
from typing import Any

from django.views.decorators.debug import sensitive_variables

# ${NAME}, or ${NAME:-default} for a value used when NAME is not set.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Values shorter than this are not redacted from results: replacing "1" or "on"
# everywhere would mangle the data without protecting anything worth hiding.
MIN_REDACTED_LENGTH = 4
# The registry is taken out of every log line of the process, not only out of one
# check's data: shorter values ("true", "json", a port) would mask common words.
# The HTTP client draws the same line (checks.http.wording.MIN_SECRET_LENGTH).
MIN_REGISTERED_LENGTH = 6


class MissingVariable(LookupError):
    def __init__(self, name: str):
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def contains(value: Any) -> bool:
    """Whether a placeholder appears anywhere in `value`."""
    if isinstance(value, str):
        return PLACEHOLDER.search(value) is not None
    if isinstance(value, dict):
        return any(contains(v) for v in value.values())
    if isinstance(value, list):
        return any(contains(v) for v in value)
    return False


def required_names(value: Any) -> set[str]:
    """The variables used anywhere in `value` without a `:-default`."""
    if isinstance(value, str):
        return {m.group(1) for m in PLACEHOLDER.finditer(value) if m.group(2) is None}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(required_names(v) for v in value))
    return set()


@sensitive_variables()  # `environ` is the whole environment
def resolve(value: Any, environ=os.environ, secrets: dict | None = None) -> Any:
    """
    `value` with every placeholder replaced from `environ`.

    Each substituted value is recorded in `secrets` (value -> placeholder), for
    `redact()`. An unset variable takes its `:-default`, or raises MissingVariable
    rather than becoming "" as in Telescope, where it silently made a wrong URL.
    """
    if isinstance(value, dict):
        return {k: resolve(v, environ, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, environ, secrets) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value  # nothing to substitute (and no function to decorate: costly)

    @sensitive_variables()
    def substitute(match: re.Match) -> str:
        name, default = match.groups()
        if name not in environ:
            if default is None:
                raise MissingVariable(name)
            return default  # written in the config: not a secret
        remember({environ[name]: match.group(0)})
        if secrets is not None and len(environ[name]) >= MIN_REDACTED_LENGTH:
            secrets[environ[name]] = match.group(0)
        return environ[name]

    return PLACEHOLDER.sub(substitute, value)


def redact(value: Any, secrets: dict[str, str]) -> Any:
    """`value` with every resolved secret replaced by its placeholder."""
    if not secrets:
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, secrets[secret])
    return value


def remember(secrets: dict[str, str]) -> None:
    """Add resolved values (value -> placeholder) to this process's registry;
    a process forked before they were resolved is handed them this way."""
    kept = {v: p for v, p in secrets.items() if len(v) >= MIN_REGISTERED_LENGTH}
    if any(value not in _registry for value in kept):  # else known already: no lock
        with _registry_lock:
            _registry.update(kept)


def resolved_values() -> dict[str, str]:
    """Every value resolved from a placeholder in this process (value -> placeholder)."""
    with _registry_lock:
        return dict(_registry)


_registry: dict[str, str] = {}
_registry_lock = threading.Lock()
