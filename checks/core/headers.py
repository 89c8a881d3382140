"""
Every URL should answer with some response headers when sent some request headers.

Each URL of `urls` is requested with `HEAD` (in parallel), sending
`request_headers`. Every header of `response_headers` must be in each answer;
when its expected value is not empty, the received value must also be equal to it
(header names are case-insensitive, values are not).

The data is `{}` when all URLs pass. Otherwise it maps each failing URL to the
headers that are missing or different, with the expected value:
`{"https://…": {"missing": {"Content-Encoding": "gzip"}}}`, or to
`{"error": "…"}` when the URL could not be reached.

Parameters:

* `urls` (list of strings): the URLs to request.
* `request_headers` (table of strings): headers to send, e.g. `Accept-Encoding`.
* `response_headers` (table of strings): headers expected back; an empty value
  only requires the header to be present.

Example:

```toml
[checks.myproject.gzip]
description = "Responses are compressed when asked to."
module = "checks.core.headers"
params.urls = ["https://myproject.example.com/v1/", "https://myproject.example.com/v1/buckets"]
params.request_headers = {"Accept-Encoding" = "gzip"}
params.response_headers = {"Content-Encoding" = "gzip", "Vary" = ""}
```
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from checks import http

EXPOSED_PARAMETERS = ["urls", "request_headers", "response_headers"]
URL_PARAMETERS: list[str] = []

# Enough to overlap network waits; the global request limit still applies.
MAX_WORKERS = 8


def run(
    urls: list[str],
    request_headers: dict[str, str],
    response_headers: dict[str, str],
) -> tuple[bool, Any]:
    def inspect(url: str) -> dict:
        return _problems(url, request_headers, response_headers)

    with ThreadPoolExecutor(max_workers=max(1, min(len(urls), MAX_WORKERS))) as pool:
        results = dict(zip(urls, pool.map(inspect, urls)))
    failing = {url: problems for url, problems in results.items() if problems}
    return not failing, failing


def _problems(url: str, request_headers: dict, response_headers: dict) -> dict:
    try:
        received = http.fetch("HEAD", url, headers=request_headers).headers
    except http.HTTPError as exc:
        return {"error": str(exc)}
    missing = {
        name: value
        for name, value in response_headers.items()
        if name not in received or (value and received[name] != value)
    }
    return {"missing": missing} if missing else {}
