"""
URL should answer a `HEAD` request in less than `max_milliseconds`.

The latency is the time between sending the request and receiving the response
headers, in milliseconds (an integer); any status code counts as an answer. When
the server cannot be reached, the check fails and the data is a message
explaining why.

Parameters:

* `url` (string): the URL to request.
* `max_milliseconds` (integer): the latency, in milliseconds, to stay under.

The latency is plotted in the history (`plot = "."`).

Example:

```toml
[checks.myproject.latency]
description = "The home page answers quickly."
module = "checks.core.latency"
params.url = "https://myproject.example.com/"
params.max_milliseconds = 500
```
"""

from typing import Any

from checks import http

EXPOSED_PARAMETERS = ["url", "max_milliseconds"]
URL_PARAMETERS: list[str] = []
DEFAULT_PLOT = "."


def run(url: str, max_milliseconds: int) -> tuple[bool, Any]:
    try:
        response = http.fetch("HEAD", url)
    except http.HTTPError as exc:
        return False, str(exc)
    # `elapsed` leaves out the wait for a free request slot in the service.
    elapsed = round(response.elapsed.total_seconds() * 1000)
    return elapsed < max_milliseconds, elapsed
