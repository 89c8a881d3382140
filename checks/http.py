"""
The single way check modules talk HTTP: retries, timeouts, headers, concurrency.

Every outbound request of a check goes through `fetch()` (or `fetch_json()` /
`fetch_text()`), so that the service-wide policy lives in one place:

* one `requests.Session` per thread (sessions are not thread-safe, and the runner
  runs many checks at once), rebuilt when the retry configuration changes;
* retries with exponential backoff on connection errors and read timeouts only,
  never on HTTP status codes (a 503 is an answer, and the check decides);
* `(connect, read)` timeouts, the configured `User-Agent` and default headers;
* a process-wide cap of `max_concurrency` requests in flight;
* one exception, `HTTPError`, whose message says what went wrong and never holds
  credentials (no `Authorization` value, no `user:pass@`, no `?token=` value).

Everything is read from `checks.config.current` when a request is made.
"""

import email.message
import json
import os
import re
import socket
import ssl
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from checks import config

# Seconds; the first retry is immediate, then 1 s, 2 s... (urllib3's formula).
BACKOFF_FACTOR = 0.5
BACKOFF_MAX = 10.0

# Query parameters and headers whose values are secrets, for error messages.
SENSITIVE_NAME = re.compile(r"auth|token|key|secret|passw|sig|cookie|session", re.I)
MIN_SECRET_LENGTH = 6

_INVALID_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
)

_local = threading.local()
_semaphore_lock = threading.Lock()
_semaphore: tuple[int, threading.BoundedSemaphore | None] = (0, None)


class HTTPError(Exception):
    """A request failed; the message explains why and is safe to show."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


def fetch(
    method: str, url: str, *, headers: dict | None = None, **kwargs
) -> requests.Response:
    """Send a request with the service's policy; return the response, whatever
    its status. Network failures raise `HTTPError`. `kwargs` go to requests."""
    cfg = config.current
    merged = {"User-Agent": cfg.user_agent, **cfg.default_headers, **(headers or {})}
    timeout = kwargs.setdefault(
        "timeout", (cfg.connect_timeout_seconds, cfg.timeout_seconds)
    )
    with _slots():
        try:
            return _session().request(method, url, headers=merged, **kwargs)
        except requests.RequestException as exc:
            reason = _describe(exc, timeout)
            message = f"{method.upper()} {safe_url(url)} failed: {reason}"
            # `from None`: requests' exceptions carry the request and its headers.
            raise HTTPError(_scrub(message, url, merged), url=safe_url(url)) from None


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
    """Raise `HTTPError` unless the status is 2xx, quoting the start of the body."""
    if 200 <= response.status_code < 300:
        return
    snippet = " ".join(response.content[:200].decode("utf-8", "replace").split())
    message = f"{_label(response)} returned HTTP {response.status_code}"
    message += f" {response.reason}" if response.reason else ""
    message += f": {snippet}" if snippet else ""
    raise HTTPError(
        _scrub(message, response.url, response.request.headers),
        url=safe_url(response.url),
        status=response.status_code,
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


def safe_url(url: str) -> str:
    """The URL without `user:pass@` and with secret-looking query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = [
        (name, "***" if SENSITIVE_NAME.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*")))


def forget_connections() -> None:
    """Start again with no session: a forked check process calls this, since the
    pooled connections it inherited are its parent's, still in use there."""
    global _local
    _local = threading.local()


def _session() -> requests.Session:
    """This thread's session, rebuilt when the retry policy changed."""
    key = (config.current.max_retries, BACKOFF_FACTOR, BACKOFF_MAX)
    if getattr(_local, "key", None) != key:
        if getattr(_local, "session", None) is not None:
            _local.session.close()  # release its pooled connections now
        _local.session = _new_session(*key)
        _local.key = key
    return _local.session


def _new_session(retries: int, backoff: float, backoff_max: float) -> requests.Session:
    retry = Retry(
        total=retries,
        other=0,  # TLS and protocol errors will not fix themselves.
        status_forcelist=(),  # a 5xx is an answer the check must see, not retry.
        raise_on_status=False,
        backoff_factor=backoff,
        backoff_max=backoff_max,
    )
    session = requests.Session()
    # Without proxy variables, skip requests' scan of the environment and ~/.netrc
    # on every request (a fifth of a heartbeat's CPU); with them, honour them all.
    session.trust_env = _uses_proxies()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _uses_proxies() -> bool:
    variables = {key.lower() for key in os.environ}
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"} & variables
    return bool(proxies) or os.path.exists(os.path.expanduser("~/.netrc"))


def _slots() -> threading.BoundedSemaphore:
    """The process-wide semaphore, resized when `max_concurrency` changed."""
    global _semaphore
    size = config.current.max_concurrency
    with _semaphore_lock:
        if _semaphore[0] != size:
            _semaphore = (size, threading.BoundedSemaphore(size))
        return _semaphore[1]


def _describe(exc: Exception, timeout) -> str:
    """A short human explanation of a requests exception, from its causes."""
    chain = exception_chain(exc)
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    exhausted = chain_has(chain, urllib3.exceptions.MaxRetryError)
    attempts = config.current.max_retries + 1
    suffix = f" ({attempts} attempts)" if exhausted and attempts > 1 else ""
    if chain_has(chain, urllib3.exceptions.ReadTimeoutError, requests.ReadTimeout):
        return f"no response within {read}s{suffix}"
    if chain_has(chain, ConnectionRefusedError):
        return f"connection refused{suffix}"
    if chain_has(chain, socket.gaierror, urllib3.exceptions.NameResolutionError):
        return f"could not resolve the host name{suffix}"
    if chain_has(chain, urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout):
        return f"could not connect within {connect}s{suffix}"
    if chain_has(chain, ssl.SSLError, urllib3.exceptions.SSLError):
        return f"TLS error: {chain[-1]}"
    if isinstance(exc, _INVALID_URL):
        return f"invalid URL ({type(exc).__name__})"
    return f"{type(chain[-1]).__name__}: {chain[-1]}{suffix}"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first (urllib3 wraps a lot);
    also used by the errors scraper to explain its own failures."""
    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        exc = inner or exc.__cause__ or exc.__context__
    return chain


def chain_has(chain: list[BaseException], *types: type) -> bool:
    return any(isinstance(e, types) for e in chain)


def _scrub(message: str, url: str, headers) -> str:
    """Mask any secret that found its way into a message, e.g. a server echoing
    our Authorization header back in an error body."""
    secrets = [str(v) for k, v in (headers or {}).items() if SENSITIVE_NAME.search(k)]
    secrets += [_password(url)]
    # "token abc…" / "Bearer abc…": the credential may also appear alone.
    secrets += [secret.partition(" ")[2] for secret in secrets]
    for secret in secrets:
        # Short values ("X-Key-Id: 1") are not secrets, and masking them mangles.
        if len(secret) >= MIN_SECRET_LENGTH:
            message = message.replace(secret, "***")
    return message


def _password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def _label(response: requests.Response) -> str:
    return f"{response.request.method} {safe_url(response.url)}"


def _charset(content_type: str) -> str:
    message = email.message.Message()
    message["Content-Type"] = content_type
    return message.get_content_charset() or "utf-8"
