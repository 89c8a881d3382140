"""
Reading an answer: its status, its text, its JSON, with errors worth showing.

`raise_for_status()`, `response_text()` and `response_json()` raise `HTTPError`
with a message that says what was wrong (`HTTP 503` and the start of the body,
`invalid JSON`, `body is not valid utf-8`), scrubbed like every message of the
client; `fetch_json()` and `fetch_text()` fetch and read in one call.
"""

import email.message
import json
from typing import Any

import requests

from checks.http.client import fetch
from checks.http.wording import HTTPError, safe_url, scrub, secrets


def fetch_json(url: str, *, method: str = "GET", **kwargs) -> Any:
    """The decoded JSON body of a 2xx answer; anything else raises `HTTPError`."""
    response = fetch(method, url, **kwargs)
    raise_for_status(response)
    return response_json(response)


def fetch_text(url: str, *, method: str = "GET", **kwargs) -> str:
    """The decoded text body of a 2xx answer; anything else raises `HTTPError`."""
    response = fetch(method, url, **kwargs)
    raise_for_status(response)
    return response_text(response)


def raise_for_status(response: requests.Response) -> None:
    """Raise `HTTPError` unless the status is 2xx, quoting the start of the body
    (a server may echo our credentials there: they are masked)."""
    if 200 <= response.status_code < 300:
        return
    reason = f"HTTP {response.status_code}"
    snippet = " ".join(response.content[:200].decode("utf-8", "replace").split())
    message = f"{_label(response)} failed: {reason}" + (f": {snippet}" if snippet else "")
    known = [s for hop in (*response.history, response) for s in secrets(hop.request.url, hop.request.headers)]
    raise HTTPError(
        scrub(message, sorted(known, key=len, reverse=True)),
        url=safe_url(response.url),
        status=response.status_code,
        reason=reason,
    )


def response_text(response: requests.Response) -> str:
    """The body as text, with the charset of Content-Type or else UTF-8.

    Unlike `response.text`, which guesses, a body that is not valid in its
    charset raises `HTTPError`, so a check can fail with an explanation."""
    charset = _charset(response.headers.get("Content-Type", ""))
    try:
        return response.content.decode(charset)
    except LookupError:
        message = f"{_label(response)}: unknown charset {charset!r}"
        raise HTTPError(message, url=safe_url(response.url)) from None
    except UnicodeDecodeError as exc:
        problem = f"{exc.reason} at byte {exc.start}"
        message = f"{_label(response)}: body is not valid {charset} ({problem})"
        raise HTTPError(message, url=safe_url(response.url)) from None


def response_json(response: requests.Response) -> Any:
    """The body parsed as JSON, whatever the Content-Type; raises `HTTPError`."""
    text = response_text(response)
    try:
        return json.loads(text)
    except ValueError as exc:
        snippet = " ".join(text[:80].split())
        message = f"{_label(response)}: invalid JSON ({exc}): {snippet!r}"
        raise HTTPError(message, url=safe_url(response.url)) from None


def _label(response: requests.Response) -> str:
    return f"{response.request.method} {safe_url(response.url)}"


def _charset(content_type: str) -> str:
    message = email.message.Message()
    message["Content-Type"] = content_type
    return message.get_content_charset() or "utf-8"
