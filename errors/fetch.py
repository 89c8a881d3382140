"""
Fetching the errors JSON of many instances in parallel.

`fetch_one(url, ...)` GETs one instance's errors endpoint through the service's
HTTP client (`checks.http`) and returns a `FetchResult`: the parsed `Payload`, or
a short message saying what went wrong, in the client's words ("connection
refused", "timed out after 5 s", "HTTP 500", "response over 10 MB") or the
payload's ("invalid JSON: ...", "wrong shape: ..."). It never raises.
`fetch_many(pairs, ...)` does that for many (key, url) pairs, at most
`concurrency` at once, and yields each result as soon as it is ready.

Every body answered is hashed (`FetchResult.digest`). Given the digest of the
last body merged (`known_digest`, or `digests` per key), a byte-identical body is
not parsed at all: the result says `unchanged`, with no payload and no error.
Parsing (JSON, then the checks and caps of `errors.payload`) is most of a
scrape's CPU, and most scrapes of a quiet instance find nothing new. JSON
decoding itself is under a fifth of that parse (the profile in bench/README.md),
so the standard library's decoder stays.

What the scraper asks of the client, where upstream Periskop was not safe:

* A total deadline of `timeout` seconds per fetch, download included, so a
  server that trickles a byte every second cannot hold a slot.
* A size limit, `max_bytes`, after decompression (a gzip bomb is stopped too).
* A non-2xx status is an error (Periskop counted a 500 with a JSON body).
* No retries: the next scrape is the retry.
* A redirect to another host is refused, unless `follow_redirects` (the
  service's setting) allows it; even then the service's headers (and its
  credentials) are not sent to the other host: they are meant for its instances
  only. Same-host redirects are followed.
* Environment proxies are not used: instances are scraped directly, like
  Prometheus does.
* At most `ERRORS_SCRAPE_CONCURRENCY` fetches at once in the process (`SCRAPES`),
  whatever the number of services scraped at once.

Bounded work and memory in `fetch_many`: it pulls the next (key, url) from its
input only when a slot frees up, never holds more than `concurrency` finished
results, and a hanging target holds one slot for at most `timeout` seconds while
the others go on. Periskop waited for the slowest target of a pass.

Messages are safe to show: the URL has no `user:pass@` (sent as Basic auth) and no
secret-looking query value, and header values never appear in them.
"""

import functools
import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from checks import http
from errors import payload as payload_module
from errors.payload import Payload, PayloadError
from foundation import windowed

USER_AGENT = "telescope-errors-scraper"
HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
SCRAPES = http.Limit(lambda: settings.ERRORS_SCRAPE_CONCURRENCY)


@dataclass(frozen=True)
class FetchResult:
    url: str  # safe for display (no credentials)
    payload: Payload | None  # None when it failed
    error: str  # "" on success, else what went wrong
    duration: float  # seconds
    status: int | None  # the HTTP status, when there was an answer
    digest: str = ""  # the body's hash, when there was a 2xx answer
    unchanged: bool = False  # the body is the one of `known_digest`: not parsed


class _Failure(Exception):
    """The payload is unusable, for a reason already put in words."""


# --- one target -------------------------------------------------------------------


def fetch_one(
    url: str, *, timeout: float, max_bytes: int, headers: dict[str, str] | None = None,
    follow_redirects: bool = False, known_digest: str = "",
) -> FetchResult:
    """GET `url` and parse its payload, unless its body has `known_digest`; never
    raises (see the module docstring)."""
    started = time.monotonic()
    payload, error, status, digest = None, "", None, ""
    try:
        response = _get(url, timeout, max_bytes, headers or {}, follow_redirects)
        status = response.status_code
        digest = body_digest(response.content)
        if known_digest and digest == known_digest:
            return FetchResult(http.safe_url(url), None, "", time.monotonic() - started,
                               status, digest, unchanged=True)
        payload = _parse(response.content)
    except http.HTTPError as exc:
        error, status = _explain(exc), exc.status
    except _Failure as failure:
        error = str(failure)
    except Exception as exc:  # anything else: "never raises" is the contract
        error = f"unexpected error: {type(exc).__name__}"
    return FetchResult(http.safe_url(url), payload, error, time.monotonic() - started, status, digest)


def body_digest(body: bytes) -> str:
    """A body's hash: blake2b, about ten times cheaper than parsing it."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _get(url: str, timeout: float, max_bytes: int, headers: dict[str, str], follow_redirects: bool):
    """The 2xx answer to GET `url`; `http.HTTPError` otherwise. The client drops the
    headers given here on a redirect to another host."""
    response = http.fetch(
        "GET", url, headers={**HEADERS, **headers}, timeout=timeout, deadline_seconds=timeout,
        max_bytes=max_bytes, retries=0, allow_cross_host_redirects=follow_redirects, env_proxies=False,
        limit=SCRAPES,
    )
    http.raise_for_status(response)
    return response


def _explain(exc: http.HTTPError) -> str:
    if exc.reason == http.CLOSED_WITHOUT_ANSWER:
        # The Python client answers nothing at all on a wrong path or a query string.
        return f"{exc.reason} (wrong path?)"
    return exc.reason


def _parse(body: bytes) -> Payload:
    if not body.strip():
        raise _Failure("invalid JSON: empty body")
    try:
        document = json.loads(body.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise _Failure(f"invalid JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise _Failure("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise _Failure(f"invalid JSON: {exc}") from None
    try:
        return payload_module.parse(document)
    except PayloadError as exc:
        raise _Failure(f"wrong shape: {exc}") from None
    except RecursionError:
        raise _Failure("wrong shape: nested too deeply") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# --- many targets -----------------------------------------------------------------


def fetch_many(
    urls: Iterable[tuple[Any, str]],
    *,
    concurrency: int,
    timeout: float,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    digests: Mapping[Any, str] | None = None,
) -> Iterator[tuple[Any, FetchResult]]:
    """(key, url) pairs in, (key, result) out as they complete; `digests[key]`, when
    given, is that key's `known_digest`.

    At most `concurrency` fetches run at once; the next pair is taken from `urls`
    only when one finishes, and each result is yielded as soon as it is ready, so
    memory does not depend on the number of urls (`urls` may be a generator).
    Closing the generator early waits for the fetches in flight (at most
    `timeout`), so that nothing runs once it is closed."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    fetch = functools.partial(
        fetch_one, timeout=timeout, max_bytes=max_bytes, headers=headers, follow_redirects=follow_redirects
    )
    digests = digests or {}
    calls = (
        ((key, url), functools.partial(fetch, known_digest=digests.get(key, "")), (url,))
        for key, url in urls
    )
    with ThreadPoolExecutor(concurrency, thread_name_prefix="errors-fetch") as executor:
        for (key, url), future in windowed.as_finished(executor, calls, concurrency):
            yield key, _result(future, url)


def _result(future: Future, url: str) -> FetchResult:
    try:
        return future.result()
    except Exception as exc:  # fetch_one does not raise; be sure anyway
        return FetchResult(http.safe_url(url), None, f"unexpected error: {type(exc).__name__}", 0.0, None)
