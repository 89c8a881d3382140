"""
URL should answer `GET` with the expected status (200 by default).

The check succeeds when the status code equals `expected_status`. The response
body is returned as data: parsed JSON when the `Content-Type` is JSON (`null`
for an empty body), the text otherwise. When the status is not the expected one
and the body is not JSON (an error page of a proxy, say), the data is the status
and the start of the text, such as `HTTP 502: Bad Gateway …`, not a whole HTML
page; with no body at all, the status alone (`HTTP 503`). When the server cannot be reached, or the body cannot be decoded (invalid
JSON, not valid in its charset), the check fails and the data is a message
explaining why. Other status codes are not retried.

Parameters:

* `url` (string): the URL to fetch, typically a Dockerflow `/__heartbeat__`.
* `expected_status` (integer, default `200`): the status code that means healthy.

Example:

```toml
[checks.myproject.heartbeat]
description = "The server reports itself as healthy."
module = "checks.core.heartbeat"
params.url = "https://myproject.example.com/__heartbeat__"
params.expected_status = 200
```
"""

from typing import Any

import requests

from checks import http

EXPOSED_PARAMETERS = ["url", "expected_status"]
URL_PARAMETERS: list[str] = []


SNIPPET_CHARACTERS = 200


def run(url: str, expected_status: int = 200) -> tuple[bool, Any]:
    try:
        response = http.fetch("GET", url)
        body = _body(response)
    except http.HTTPError as exc:
        return False, str(exc)
    if response.status_code == expected_status:
        return True, body
    if body is None or isinstance(body, str):  # nothing to read, or not JSON: the status
        return False, _status_line(response, body or "")
    return False, body


def _status_line(response: requests.Response, text: str) -> str:
    snippet = " ".join(text.split())[:SNIPPET_CHARACTERS]
    return f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")


def _body(response: requests.Response) -> Any:
    if not _is_json(response.headers.get("Content-Type", "")):
        return http.response_text(response)
    # An empty JSON answer (e.g. a 204 or a bare 503) is "nothing", not an error.
    return http.response_json(response) if response.content.strip() else None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")
