"""
The age of the CloudFront cached response at URL should be less than `max_age`.

A `HEAD` request is sent, and the `Age` header (seconds since CloudFront fetched
the response from the origin) is compared with `max_age`. The data is the age,
an integer; a cache miss has no `Age` header, and counts as age 0.

The check fails, with a message as data, when the answer has no `X-Cache` header
(the URL is not served by CloudFront), when `Age` is not an integer, or when the
server cannot be reached.

Parameters:

* `url` (string): the URL behind CloudFront.
* `max_age` (integer): the age, in seconds, to stay under.

The age is plotted in the history (`plot = "."`).

Example:

```toml
[checks.myproject.cdn-age]
description = "The CDN serves a recent copy of the changes feed."
module = "checks.core.cloudfront_age"
params.url = "https://cdn.example.com/v1/buckets/monitor/collections/changes/records"
params.max_age = 3600
```
"""

from typing import Any

from checks import http

EXPOSED_PARAMETERS = ["url", "max_age"]
URL_PARAMETERS: list[str] = []
DEFAULT_PLOT = "."


def run(url: str, max_age: int) -> tuple[bool, Any]:
    try:
        headers = http.fetch("HEAD", url).headers
    except http.HTTPError as exc:
        return False, str(exc)
    if "X-Cache" not in headers:
        return False, f"{http.safe_url(url)} has no X-Cache header: not served by CloudFront"
    try:
        age = int(headers.get("Age", 0))
    except ValueError:
        return False, f"Invalid Age header: {headers['Age']!r}"
    return age < max_age, age
