"""
`fetch()`: every outbound request of the service, with one policy.

* Timeouts: connect and read (`connect_timeout_seconds`, `timeout_seconds`), and
  a total deadline (`deadline_seconds`) that covers connecting, redirects,
  retries and the whole body, so that a server trickling a byte a second cannot
  hold a request (`checks.http.deadline`).
* A size cap (`max_response_bytes`): every body is streamed and the request fails
  as soon as it passes the cap, after decompression; a Content-Length above it is
  refused before reading. Redirects' bodies too.
* Retries only where they are safe: a connection that could not be made, and for
  idempotent methods a read timeout, a dropped connection and 502, 503 or 504
  (429 and 503 when they say Retry-After), with exponential backoff. A
  Retry-After longer than `RETRY_AFTER_MAX` or than the deadline leaves the
  answer as it is. POST and PATCH are not retried unless the caller opts in.
* Concurrency: each kind of caller has its `Limit` of requests at once in this
  process; checks, Bugzilla and webhooks share `REQUESTS` (`max_concurrency`).
* Redirects (at most `MAX_REDIRECTS`): one to another host (or port, or from
  https to http) drops every header the caller set, Authorization and API keys
  included, or is refused when the caller says so.
* Failures raise `HTTPError`, worded and scrubbed by `checks.http.wording`.

A plain GET or HEAD (no body, no query parameters given apart, no proxy from the
environment, a URL requests would send as it is) goes to urllib3 directly, under
the same pool, retries, timeouts, deadline and size cap, and comes back as the
`requests.Response` requests would build: requests' own work per request was
most of a heartbeat's CPU. An answer that redirects is followed from there by
requests, with the policy above. Everything else goes through requests.

Connections are kept alive in one process-wide, thread-safe pool (up to
`KEEPALIVE_HOSTS` hosts), whichever thread makes the request; each thread has
its own `requests.Session` (sessions are not thread-safe), and the request in
progress is the thread's. Settings are read from `checks.config.current` at each
request, so a configuration change applies to the next one.
"""

import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import certifi
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import default_headers, get_encoding_from_headers
from urllib3.exceptions import LocationParseError, MaxRetryError
from urllib3.util import Retry, parse_url

from checks import config
from checks.http import deadline
from checks.http.wording import (
    HTTPError,
    Refused,
    describe,
    safe_url,
    scrub,
    scrub_library_logs,
    secrets,
    timed_out,
    too_large,
)

# Seconds; the first retry is immediate, then 1 s, 2 s... (urllib3's formula).
BACKOFF_FACTOR = 0.5
BACKOFF_MAX = 10.0
RETRY_AFTER_MAX = 10.0
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_REDIRECTS = 10  # Go's, as Periskop had
KEEPALIVE_HOSTS = 256
CHUNK_BYTES = 64 * 1024
# What a requests session sends unless told otherwise, sent by `_send_plain` too.
_DEFAULT_HEADERS = default_headers()


class Limit:
    """At most `size` requests at once, in this process, for one kind of caller.

    `size` is a number or a function that returns it, read at each request; a
    new size applies to the next requests (those in flight finish as they were)."""

    def __init__(self, size: int | Callable[[], int]):
        self._size = size
        self._lock = threading.Lock()
        self._current: tuple[int, threading.BoundedSemaphore | None] = (0, None)

    def slot(self) -> threading.BoundedSemaphore:
        size = self._size() if callable(self._size) else self._size
        with self._lock:
            if self._current[0] != size:
                self._current = (size, threading.BoundedSemaphore(size))
            return self._current[1]


REQUESTS = Limit(lambda: config.current.max_concurrency)


@dataclass
class _Call:
    """One request in progress: what it asked for, what it may not show."""

    method: str
    url: str
    headers: dict  # what the caller set, defaults included
    connect: float
    read: float
    deadline: float
    max_bytes: int
    retries: int
    retry_unsafe: bool
    allow_cross_host_redirects: bool
    env_proxies: bool
    secrets: list[str] = field(default_factory=list)

    def error(self, exc: BaseException) -> HTTPError:
        # A socket timeout bounded by the deadline may fire before the watchdog.
        left = deadline.remaining()
        expired = deadline.disarm() or left <= 0
        limits = {"connect": self.connect, "read": self.read, "redirects": MAX_REDIRECTS}
        reason = describe(exc, attempts=self.retries + 1, **limits)
        reason = scrub(timed_out(self.deadline) if expired else reason, self.secrets)
        response = getattr(exc, "response", None)
        status = response.status_code if response is not None else None
        message = f"{self.method} {safe_url(self.url)} failed: {reason}"
        return HTTPError(message, url=safe_url(self.url), status=status, reason=reason)


def fetch(
    method: str,
    url: str,
    *,
    headers: dict | None = None,
    timeout: float | tuple[float, float] | None = None,
    deadline_seconds: float | None = None,
    max_bytes: int | None = None,
    retries: int | None = None,
    retry_unsafe: bool = False,
    allow_cross_host_redirects: bool = True,
    env_proxies: bool = True,
    limit: Limit = REQUESTS,
    **kwargs,
) -> requests.Response:
    """Send a request with the service's policy (see the module docstring) and
    return the answer, whatever its status, its body read. Failures raise
    `HTTPError`. Options not given come from `checks.config`; `timeout` is
    `(connect, read)` or one number for both; `retry_unsafe` lets POST and PATCH
    be retried; `env_proxies=False` ignores HTTP_PROXY and the like. Other
    `kwargs` go to `requests` (`params`, `json`, `data`, `allow_redirects`)."""
    cfg = config.current
    connect, read = _timeouts(timeout, cfg)
    call = _Call(
        method.upper(), url, {**cfg.default_headers, **(headers or {})}, connect, read,
        deadline_seconds or cfg.deadline_seconds, max_bytes or cfg.max_response_bytes,
        cfg.max_retries if retries is None else retries, retry_unsafe,
        allow_cross_host_redirects, env_proxies,
    )
    call.secrets = secrets(url, call.headers)
    with limit.slot():
        return _send(call, kwargs)


def _timeouts(timeout, cfg: config.Config) -> tuple[float, float]:
    if timeout is None:
        return cfg.connect_timeout_seconds, cfg.timeout_seconds
    return timeout if isinstance(timeout, tuple) else (timeout, timeout)


def _send(call: _Call, kwargs: dict) -> requests.Response:
    _local.call = call
    deadline.arm(call.deadline)
    try:
        _check_url(call.url)
        if _is_plain(call, kwargs):
            response = _send_plain(call)
        else:
            response = _send_with_requests(call, kwargs)
        if deadline.disarm():  # the watchdog may have cut the body short
            raise Refused(timed_out(call.deadline), response=response)
        return response
    except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as exc:
        # ValueError: what requests lets through of a malformed URL or header.
        # `from None`: requests' exceptions carry the request and its headers.
        raise call.error(exc) from None
    finally:
        deadline.disarm()
        _local.call = None


# A URL that requests would send as it is: printable ASCII, nothing it quotes, no
# `user:password@` (which requests turns into Basic auth).
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]!$&'()*+,;=%]+")
_PLAIN_METHODS = frozenset({"GET", "HEAD"})


def _is_plain(call: _Call, kwargs: dict) -> bool:
    """Whether `call` may skip requests (`_send_plain`): a GET or HEAD of a plain
    URL, with no body, query parameters or proxies from the environment."""
    return (
        call.method in _PLAIN_METHODS
        and not kwargs
        and not (call.env_proxies and _session().proxies_in_env)
        and _PLAIN_URL.fullmatch(call.url) is not None
    )


def _send_plain(call: _Call) -> requests.Response:
    """
    `call` sent by urllib3 directly, on the same pool, with the same retries,
    timeouts, deadline and size cap as through requests, and the answer as
    requests would give it: requests' own work per request (merging settings,
    cookies, hooks, redirect resolution) is most of a heartbeat's CPU. An
    answer that redirects is followed by requests from there.
    """
    headers = CaseInsensitiveDict(_DEFAULT_HEADERS)
    headers["User-Agent"] = config.current.user_agent
    headers.update(call.headers)
    headers = CaseInsensitiveDict({k: v for k, v in headers.items() if v is not None})
    started = time.monotonic()
    raw = _pool.urlopen(
        call.method, call.url, headers=headers, body=None, redirect=False,
        assert_same_host=False, preload_content=False, decode_content=False,
        retries=_adapter(call).max_retries,
        timeout=urllib3.Timeout(connect=call.connect, read=call.read),
    )
    response = _response_of(call, headers, raw, time.monotonic() - started)
    _read_body(response)
    if response.is_redirect:
        return _followed(call, response)
    return response


def _followed(call: _Call, response: requests.Response) -> requests.Response:
    """The answer at the end of `response`'s redirects, followed by requests as
    `Session.send` follows them (the same policy, this thread's session)."""
    session = _session()
    session.trust_env = False  # a plain call uses no proxy from the environment
    hops = list(session.resolve_redirects(
        response, response.request, stream=True, timeout=(call.connect, call.read),
        verify=True, cert=None, proxies={},
    ))
    if not hops:
        return response
    final = hops.pop()
    final.history = [response, *hops]
    return final


def _response_of(call: _Call, headers, raw, seconds: float) -> requests.Response:
    """The requests `Response` of urllib3's `raw`, as requests' adapter builds it."""
    request = requests.PreparedRequest()
    request.method, request.url, request.headers, request.body = call.method, call.url, headers, None
    request._cookies = requests.cookies.RequestsCookieJar()  # what a redirect reads
    request.hooks["response"].append(_read_body)  # each redirect's body too
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw, response.reason = raw, raw.reason
    response.url, response.request = call.url, request
    response.elapsed = timedelta(seconds=seconds)
    return response


def _send_with_requests(call: _Call, kwargs: dict) -> requests.Response:
    return _session().request(
        call.method, call.url, headers={"User-Agent": config.current.user_agent, **call.headers},
        timeout=(call.connect, call.read), stream=True, hooks={"response": _read_body}, **kwargs,
    )


def _check_url(url: str) -> None:
    try:
        parsed = parse_url(url)
    except LocationParseError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused("invalid URL (expected http:// or https:// and a host)")


def _read_body(response: requests.Response, **_) -> requests.Response:
    """The response hook: reads each answer's body (redirects' too) within the
    size cap, then hands the connection back to the pool for reuse."""
    try:
        # Where requests keeps a body it read itself: `.content` and `.text` work.
        response._content = _capped_body(response, _local.call.max_bytes)
    except BaseException as exc:
        response.close()  # unread data, or a socket the watchdog shut: not reusable
        if isinstance(exc, Refused):
            raise
        raise _Unreadable(response=response) from exc
    response.close()
    return response


class _Unreadable(requests.RequestException):
    """The body of an answer could not be read (the cause says why)."""


def _capped_body(response: requests.Response, max_bytes: int) -> bytes:
    try:
        announced = int(response.headers.get("Content-Length") or -1)
    except ValueError:
        announced = -1  # then read until the connection closes: capped below
    if announced > max_bytes:
        raise Refused(too_large(max_bytes), response=response)
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise Refused(too_large(max_bytes), response=response)
    return bytes(body)


class _Retry(Retry):
    """urllib3's retries, within the request's deadline: the backoff never
    sleeps past it, and a Retry-After too long for it ends the retries."""

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def get_backoff_time(self) -> float:
        return max(0.0, min(super().get_backoff_time(), deadline.remaining()))

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and error is None and self._waits_too_long(response):
            raise MaxRetryError(_pool, url, "Retry-After too long")  # the answer stands
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def _waits_too_long(self, response) -> bool:
        try:
            wait = self.get_retry_after(response) or 0.0
        except urllib3.exceptions.InvalidHeader:
            wait = 0.0  # a malformed Retry-After: back off as usual
        return wait > min(RETRY_AFTER_MAX, deadline.remaining())


class _Adapter(HTTPAdapter):
    """requests' adapter over the process-wide pool, with one retry policy."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        self.poolmanager = _pool

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # not SOCKS: its own pools
            manager.pool_classes_by_scheme = deadline.POOL_CLASSES
        return manager


def _adapter(call: _Call) -> _Adapter:
    key = (call.retries, call.retry_unsafe, BACKOFF_FACTOR, BACKOFF_MAX)
    with _adapters_lock:
        if key not in _adapters:
            _adapters[key] = _Adapter(max_retries=_retry(*key))
        return _adapters[key]


def _retry(retries: int, unsafe: bool, backoff: float, backoff_max: float) -> _Retry:
    return _Retry(
        total=retries,
        other=0,  # TLS and protocol errors will not fix themselves.
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None if unsafe else Retry.DEFAULT_ALLOWED_METHODS,
        raise_on_status=False,  # the last answer is returned, whatever its status
        backoff_factor=backoff,
        backoff_max=backoff_max,
    )


class _Session(requests.Session):
    """This thread's session: the request in progress (`_local.call`) chooses
    its adapter and what a redirect to another host may carry."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS
        # Without proxy variables, skip requests' scan of the environment and
        # ~/.netrc on every request (a fifth of a heartbeat's CPU).
        self.proxies_in_env = _uses_proxies()

    def request(self, *args, **kwargs) -> requests.Response:
        self.trust_env = self.proxies_in_env and _local.call.env_proxies
        return super().request(*args, **kwargs)

    def get_adapter(self, url: str) -> HTTPAdapter:
        super().get_adapter(url)  # refuses schemes other than http and https
        return _adapter(_local.call)

    def rebuild_auth(self, prepared_request, response) -> None:
        super().rebuild_auth(prepared_request, response)  # drops Authorization
        if not self.should_strip_auth(response.request.url, prepared_request.url):
            return
        call = _local.call
        if not call.allow_cross_host_redirects:
            host = parse_url(prepared_request.url).netloc or "?"
            raise Refused(f"redirect to another host refused ({host})", response=response)
        for name in call.headers:
            if name.lower() != "user-agent":
                prepared_request.headers.pop(name, None)


def _session() -> _Session:
    if getattr(_local, "session", None) is None:
        _local.session = _Session()
    return _local.session


def _uses_proxies() -> bool:
    variables = {key.lower() for key in os.environ}
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"} & variables
    return bool(proxies) or os.path.exists(os.path.expanduser("~/.netrc"))


def _current_secrets() -> list[str]:
    call = getattr(_local, "call", None)
    return call.secrets if call is not None else []


def _new_pool() -> urllib3.PoolManager:
    # maxsize: connections kept per host; more are opened when needed (block=False).
    # As many as may be in flight at once (a check process runs dozens of checks of
    # one host at a time): fewer, and each answer beyond them closes its connection
    # (urllib3 logs "Connection pool is full") and the next request opens a new one.
    maxsize = max(10, config.current.max_concurrency)
    manager = urllib3.PoolManager(num_pools=KEEPALIVE_HOSTS, maxsize=maxsize, block=False,
                                  ca_certs=certifi.where())
    manager.pool_classes_by_scheme = deadline.POOL_CLASSES
    return manager


def _reset_after_fork() -> None:
    # A forked worker (Celery prefork, gunicorn, a check process) must not share the
    # parent's sockets, nor the session of the thread that forked.
    global _pool, _local
    _pool, _local = _new_pool(), threading.local()
    _adapters.clear()


_local = threading.local()
_pool = _new_pool()
_adapters: dict[tuple, _Adapter] = {}
_adapters_lock = threading.Lock()
os.register_at_fork(after_in_child=_reset_after_fork)
scrub_library_logs(_current_secrets)
