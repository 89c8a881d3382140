"""
Fetching the errors JSON of many instances in parallel, safely.

`fetch_one(url, ...)` GETs one instance's errors endpoint and returns a
`FetchResult`: the parsed `Payload`, or a short message saying what went wrong
("connection refused", "timed out after 5s", "HTTP 500", "invalid JSON: ...",
"body larger than 10485760 bytes", "wrong shape: ..."). It never raises.
`fetch_many(pairs, ...)` does that for many (key, url) pairs, at most
`concurrency` at once, and yields each result as soon as it is ready.

What makes it safe, where upstream Periskop was not:

* A total deadline per fetch, not only per socket operation. Connect and read
  timeouts alone let a server that trickles a byte every second hold a fetch
  forever; here a watchdog thread shuts the fetch's socket down when `timeout`
  seconds have passed since it started, whatever it was doing (connecting,
  waiting for headers, reading the body), and the result says "timed out".
* A size limit: the body is streamed and the fetch stops as soon as it passes
  `max_bytes` (after decompression, so a gzip bomb is stopped too); a
  Content-Length above the limit is refused before reading anything.
* Bounded work and memory in `fetch_many`: it pulls the next (key, url) from its
  input only when a slot frees up, never holds more than `concurrency` finished
  results, and a hanging target holds one slot for at most `timeout` seconds
  while the others go on. Periskop waited for the slowest target of a pass.
* A non-2xx status is an error (Periskop counted a 500 with a JSON body).
* No retries: the next scrape is the retry, and a retry would break the deadline.
  Up to 5 redirects are followed, as Go's client did for Periskop; Authorization
  and Cookie headers are dropped when a redirect leaves the host (urllib3's rule).

Connections are kept alive across scrapes in one process-wide, thread-safe urllib3
pool (up to 256 hosts), whichever thread fetches. Environment proxies are not used:
instances are scraped directly, like Prometheus does. DNS resolution is bounded
only by the system resolver's own timeout.

Messages are safe to show: the URL has no `user:pass@` (sent as Basic auth) and no
secret-looking query value, and header values never appear in them.
"""

import heapq
import itertools
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from http.client import IncompleteRead, RemoteDisconnected
from typing import Any

import certifi
import urllib3
from urllib3 import HTTPHeaderDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    LocationParseError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util import Retry, Timeout, make_headers, parse_url

from checks.http import chain_has, exception_chain, safe_url
from errors import payload as payload_module
from errors.payload import Payload, PayloadError

USER_AGENT = "telescope-errors-scraper"
MAX_REDIRECTS = 5
KEEPALIVE_HOSTS = 256
CHUNK_BYTES = 64 * 1024

# Only redirects are followed; any failure is final (see the module docstring).
_RETRIES = Retry(
    total=None, connect=0, read=0, status=0, other=0, redirect=MAX_REDIRECTS,
    raise_on_redirect=True, raise_on_status=False,
)
_INVALID_URL = (LocationParseError, urllib3.exceptions.URLSchemeUnknown)


@dataclass(frozen=True)
class FetchResult:
    url: str  # safe for display (no credentials)
    payload: Payload | None  # None when it failed
    error: str  # "" on success, else what went wrong
    duration: float  # seconds
    status: int | None  # the HTTP status, when there was an answer


class _Failure(Exception):
    """A fetch failed for a reason already put in words."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# --- one target -------------------------------------------------------------------


def fetch_one(
    url: str, *, timeout: float, max_bytes: int, headers: dict[str, str] | None = None
) -> FetchResult:
    """GET `url` and parse its payload; never raises (see the module docstring)."""
    started = time.monotonic()
    deadline = _watchdog.arm(started + timeout)
    _local.deadline = deadline
    status: int | None = None
    try:
        status, body = _download(url, timeout, max_bytes, headers or {})
        if deadline.finish():  # the watchdog cut the body short
            raise _Failure(_timed_out(timeout), status)
        payload, error = _parse(body), ""
    except _Failure as failure:
        payload, error, status = None, str(failure), failure.status or status
    except Exception as exc:  # anything else: "never raises" is the contract
        expired = deadline.finish()
        payload, error = None, _timed_out(timeout) if expired else _describe(exc, timeout)
        error = _scrub(error, url, headers or {})
    finally:
        deadline.finish()
        _local.deadline = None
    return FetchResult(safe_url(url), payload, error, time.monotonic() - started, status)


def _download(url: str, timeout: float, max_bytes: int, headers: dict[str, str]) -> tuple[int, bytes]:
    """The status and body of a 2xx answer to GET `url`; `_Failure` otherwise."""
    target, credentials = _split_credentials(url)
    response = _pool.request(
        "GET",
        target,
        headers=_request_headers(credentials, headers),
        timeout=Timeout(connect=timeout, read=timeout),
        retries=_RETRIES,
        redirect=True,
        preload_content=False,
    )
    try:
        status = response.status
        if not 200 <= status < 300:
            raise _Failure(f"HTTP {status}", status)
        _refuse_announced_size(response.headers.get("Content-Length"), max_bytes, status)
        return status, _read_capped(response, max_bytes, status)
    except BaseException:
        # Unread data, or a socket the watchdog shut: the connection is not reusable.
        response.close()
        raise
    finally:
        response.release_conn()


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without `user:pass@`, and those credentials as Basic auth."""
    parsed = parse_url(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _Failure("invalid URL (expected http:// or https:// and a host)")
    if not parsed.auth:
        return url, {}
    basic = make_headers(basic_auth=parsed.auth)["authorization"]
    return parsed._replace(auth=None).url, {"Authorization": basic}


def _request_headers(credentials: dict[str, str], extra: dict[str, str]) -> HTTPHeaderDict:
    merged = HTTPHeaderDict(
        {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
    )
    # Then the URL's credentials, then the service's own headers, which win
    # (User-Agent and Authorization included), whatever their case.
    for name, value in [*credentials.items(), *extra.items()]:
        merged[name] = value
    return merged


def _refuse_announced_size(content_length: str | None, max_bytes: int, status: int) -> None:
    try:
        announced = int(content_length or -1)
    except ValueError:
        return  # urllib3 reads such a body until the connection closes: capped below
    if announced > max_bytes:
        raise _Failure(_too_large(max_bytes), status)


def _read_capped(response: urllib3.BaseHTTPResponse, max_bytes: int, status: int) -> bytes:
    """The (decompressed) body, or `_Failure` once it passes `max_bytes`."""
    body = bytearray()
    for chunk in response.stream(CHUNK_BYTES, decode_content=True):
        body += chunk
        if len(body) > max_bytes:
            raise _Failure(_too_large(max_bytes), status)
    return bytes(body)


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


def _too_large(max_bytes: int) -> str:
    return f"body larger than {max_bytes} bytes"


def _timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g}s"


def _describe(exc: BaseException, timeout: float) -> str:
    """A short explanation of a urllib3 or socket error, from its causes."""
    chain = exception_chain(exc)
    if chain_has(chain, ConnectionRefusedError):
        return "connection refused"
    if chain_has(chain, NameResolutionError, socket.gaierror):
        return "could not resolve the host name"
    if chain_has(chain, ReadTimeoutError, TimeoutError, socket.timeout) or (
        chain_has(chain, ConnectTimeoutError) and not chain_has(chain, NewConnectionError)
    ):
        return _timed_out(timeout)
    if chain_has(chain, RemoteDisconnected):
        # The Python client answers nothing at all on a wrong path or a query string.
        return "connection closed without an answer (wrong path?)"
    if chain_has(chain, IncompleteRead):
        return "connection closed before the end of the body"
    if chain_has(chain, ConnectionResetError):
        return "connection reset by the server"
    if chain_has(chain, ssl.SSLError, urllib3.exceptions.SSLError):
        return f"TLS error: {chain[-1]}"
    if chain_has(chain, ResponseError) and chain_has(chain, MaxRetryError):
        return f"more than {MAX_REDIRECTS} redirects"
    if chain_has(chain, DecodeError):
        return "could not decompress the body"
    if chain_has(chain, *_INVALID_URL):
        return f"invalid URL ({chain[-1]})"
    if chain_has(chain, ProtocolError, NewConnectionError, OSError):
        return f"connection failed: {chain[-1]}"
    return f"unexpected error: {type(chain[-1]).__name__}: {chain[-1]}"


def _scrub(message: str, url: str, headers: dict[str, str]) -> str:
    """Mask credentials that found their way into an exception's text."""
    try:
        parsed = parse_url(url)
        secrets = [parsed.auth or "", *(parsed.auth or "").split(":"), parsed.query or ""]
    except LocationParseError:
        secrets = [url]
    secrets += [str(value) for value in headers.values()]
    # Short values ("1", "yes") are not secrets, and masking them mangles the text.
    for secret in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


# --- many targets -----------------------------------------------------------------


def fetch_many(
    urls: Iterable[tuple[Any, str]],
    *,
    concurrency: int,
    timeout: float,
    max_bytes: int,
    headers: dict[str, str] | None = None,
) -> Iterator[tuple[Any, FetchResult]]:
    """(key, url) pairs in, (key, result) out as they complete.

    At most `concurrency` fetches run at once; the next pair is taken from `urls`
    only when one finishes, and each result is yielded as soon as it is ready, so
    memory does not depend on the number of urls (`urls` may be a generator).
    Closing the generator early waits for the fetches in flight (at most
    `timeout`), so that nothing runs once it is closed."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    pending = iter(urls)
    options = {"timeout": timeout, "max_bytes": max_bytes, "headers": headers}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="errors-fetch") as executor:
        in_flight: dict[Future, tuple[Any, str]] = {}

        def submit_next() -> None:
            for key, url in pending:  # takes one pair, if any is left
                in_flight[executor.submit(fetch_one, url, **options)] = (key, url)
                return

        for _ in range(concurrency):
            submit_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                key, url = in_flight.pop(future)
                submit_next()  # refill first: the slot works while the caller merges
                yield key, _result(future, url)


def _result(future: Future, url: str) -> FetchResult:
    try:
        return future.result()
    except Exception as exc:  # fetch_one does not raise; be sure anyway
        return FetchResult(safe_url(url), None, f"unexpected error: {type(exc).__name__}", 0.0, None)


# --- the total deadline -----------------------------------------------------------


class _Deadline:
    """One fetch's deadline: the sockets it uses are shut down when it passes.

    Shutting a socket down (not closing it: the fetching thread still owns it)
    wakes a thread blocked on it at once, whatever it was waiting for."""

    def __init__(self, at: float):
        self.at = at
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._state = "running"  # then "finished" or "expired", for good

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self._state == "running":
                self._sockets.append(sock)
                return
            expired = self._state == "expired"
        if expired:
            _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            if self._state != "running":
                return
            self._state, sockets, self._sockets = "expired", self._sockets, []
        for sock in sockets:
            _shutdown(sock)

    def finish(self) -> bool:
        """Stop watching; True if the deadline had passed (the data may be cut)."""
        with self._lock:
            if self._state == "running":
                self._state = "finished"
            self._sockets = []
            return self._state == "expired"


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain socket's method, also for TLS sockets: SSLSocket.shutdown
        # would tear down its TLS state under the reading thread's feet.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing to interrupt


class _Watchdog:
    """One daemon thread that expires deadlines in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()  # ties never compare deadlines
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, at: float) -> _Deadline:
        deadline = _Deadline(at)
        with self._wakeup:
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="errors-fetch-watchdog", daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return deadline

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._heap:
                    self._wakeup.wait()
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._wakeup.wait(delay)
                    continue
                _, _, deadline = heapq.heappop(self._heap)
            # Finished deadlines stay queued until their time (cheaper than
            # removing them): expiring them then does nothing.
            deadline.expire()


def _current_deadline() -> "_Deadline | None":
    return getattr(_local, "deadline", None)


class _WatchedConnectionMixin:
    """Connections that bound their socket timeouts by the fetch's deadline and
    hand their socket to it, for the watchdog to shut down."""

    timeout: Any
    sock: socket.socket | None

    def connect(self) -> None:
        deadline = _current_deadline()
        if deadline is not None:
            self.timeout = _bounded(self.timeout, deadline)
        super().connect()  # type: ignore[misc]
        if deadline is not None:
            deadline.attach(self.sock)

    def getresponse(self):  # type: ignore[no-untyped-def]
        deadline = _current_deadline()
        if deadline is not None:
            # A reused keep-alive connection did not go through connect().
            deadline.attach(self.sock)
            self.timeout = _bounded(self.timeout, deadline)
        return super().getresponse()  # type: ignore[misc]


def _bounded(value: Any, deadline: _Deadline) -> float:
    remaining = max(deadline.remaining(), 0.001)  # 0 would mean non-blocking
    return remaining if not isinstance(value, (int, float)) else min(value, remaining)


class _HTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def _new_pool() -> urllib3.PoolManager:
    # maxsize: connections kept per host; more are opened when needed (block=False).
    manager = urllib3.PoolManager(
        num_pools=KEEPALIVE_HOSTS, maxsize=2, block=False, ca_certs=certifi.where()
    )
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


def _reset_after_fork() -> None:
    # A forked worker (Celery prefork, gunicorn) must not share the parent's
    # sockets, nor wait on a watchdog thread that does not exist in it.
    global _pool, _watchdog
    _pool, _watchdog = _new_pool(), _Watchdog()


_local = threading.local()
_pool = _new_pool()
_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_reset_after_fork)
