"""
The resource at URL should have been modified less than `max_age_hours` ago.

The age comes from the `Last-Modified` header of a `HEAD` request. The data is
`{"age_hours": n}` (whole hours). The check fails with `{"error": "…"}` when the
header is missing or invalid, when the answer is an HTTP error (4xx, 5xx), or
when the server cannot be reached.

Parameters:

* `url` (string): the URL of the resource.
* `max_age_hours` (integer): the age, in hours, to stay under.

The age is plotted in the history (`plot = ".age_hours"`).

Example:

```toml
[checks.myproject.export-age]
description = "The nightly export is fresh."
module = "checks.core.resource_age"
params.url = "https://myproject.example.com/exports/latest.json"
params.max_age_hours = 26
```
"""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from checks import http

EXPOSED_PARAMETERS = ["url", "max_age_hours"]
URL_PARAMETERS: list[str] = []
DEFAULT_PLOT = ".age_hours"


def run(url: str, max_age_hours: int) -> tuple[bool, Any]:
    try:
        response = http.fetch("HEAD", url)
    except http.HTTPError as exc:
        return False, {"error": str(exc)}
    if response.status_code >= 400:
        # An error page's Last-Modified says nothing about the resource.
        return False, {"error": f"HTTP {response.status_code} from {http.safe_url(url)}"}
    last_modified = response.headers.get("Last-Modified")
    if last_modified is None:
        return False, {"error": "Missing Last-Modified header"}
    return _judge(last_modified, max_age_hours)


def _judge(last_modified: str, max_age_hours: int) -> tuple[bool, dict]:
    try:
        modified = _parse_http_date(last_modified)
    except (TypeError, ValueError):
        return False, {"error": f"Invalid Last-Modified header: {last_modified!r}"}
    age_hours = int((datetime.now(timezone.utc) - modified).total_seconds() / 3600)
    return age_hours < max_age_hours, {"age_hours": age_hours}


def _parse_http_date(value: str) -> datetime:
    parsed = parsedate_to_datetime(value)
    # "-0000" means "UTC, source unknown" and gives a naive datetime.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
