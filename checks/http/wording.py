"""
What the HTTP client says when a request fails, and what it never says.

One wording for every caller (checks, the errors scraper, Bugzilla, webhooks):
`timed out after 10 s`, `connection refused`, `response over 10 MB`, `HTTP 503`...
`HTTPError.reason` is that short phrase; its message adds the method and the URL.

Credentials never appear in a message or a log line: URLs are shown without
`user:pass@` and with the values of token-like query parameters masked
(`safe_url`), and any text that may echo a request (an exception from below, a
server's error body, urllib3's log lines) is scrubbed of the request's secrets:
its URL credentials, those query values and the values of the headers the caller
set (`scrub`).
"""

import logging
import re
import socket
import ssl
from http.client import IncompleteRead, RemoteDisconnected
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3.exceptions

# Query parameters and headers whose values are secrets.
SENSITIVE_NAME = re.compile(r"auth|token|key|secret|passw|sig|cookie|session", re.I)
# Shorter values ("X-Key-Id: 1") are not secrets, and masking them mangles text.
MIN_SECRET_LENGTH = 6
# Headers whose values say nothing secret: never masked (masking "keep-alive"
# or "application/json" in an error body only makes it harder to read).
PLAIN_HEADERS = {"user-agent", "accept", "accept-encoding", "connection", "content-type", "content-length"}

CLOSED_WITHOUT_ANSWER = "connection closed without an answer"

_URL_CREDENTIALS = re.compile(r"(?<=//)[^/?#@\s'\"]+@")
_SECRET_QUERY_VALUE = re.compile(
    r"([?&][^=&#\s'\"]*(?:auth|token|key|secret|passw|sig|cookie|session)[^=&#\s'\"]*=)[^&#\s'\"]+", re.I
)
_INVALID_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.URLRequired,
    urllib3.exceptions.LocationParseError,
)


class HTTPError(Exception):
    """A request failed; the message explains why and is safe to show.

    `reason` is the short explanation alone ("timed out after 10 s"), for
    callers that show the URL elsewhere; `status` the HTTP status, if any."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.url = url
        self.status = status
        self.reason = reason or message


class Refused(requests.RequestException):
    """The client itself stopped the request; the message says why."""


def timed_out(seconds: float) -> str:
    return f"timed out after {seconds:g} s"


def too_large(max_bytes: int) -> str:
    return f"response over {size(max_bytes)}"


def size(count: int) -> str:
    """`10 MB`, `64 KB` or `1000 bytes`: exact, in the largest unit that is."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


def describe(exc: BaseException, *, connect: float, read: float, attempts: int, redirects: int) -> str:
    """The short explanation of a failed request, from the exception's causes;
    the other arguments are the request's limits, to name the one it hit."""
    chain = exception_chain(exc)
    refused = next((e for e in chain if isinstance(e, Refused)), None)
    if refused is not None:
        return str(refused)
    if chain_has(chain, requests.TooManyRedirects):
        return f"more than {redirects} redirects"
    exhausted = attempts > 1 and chain_has(chain, urllib3.exceptions.MaxRetryError)
    return _cause(chain, connect, read) + (f" ({attempts} attempts)" if exhausted else "")


def _cause(chain: list[BaseException], connect: float, read: float) -> str:
    if chain_has(chain, ConnectionRefusedError):
        return "connection refused"
    if chain_has(chain, socket.gaierror, urllib3.exceptions.NameResolutionError):
        return "could not resolve the host name"
    if chain_has(chain, urllib3.exceptions.NewConnectionError):
        return f"connection failed: {chain[-1]}"
    if chain_has(chain, urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout):
        return timed_out(connect)
    if chain_has(chain, urllib3.exceptions.ReadTimeoutError, requests.ReadTimeout, TimeoutError):
        return timed_out(read)
    if chain_has(chain, ssl.SSLError, urllib3.exceptions.SSLError):
        return f"TLS error: {chain[-1]}"
    return _broken(chain)


def _broken(chain: list[BaseException]) -> str:
    """Failures once connected: the connection broke, or the answer is unusable."""
    if chain_has(chain, RemoteDisconnected):
        return CLOSED_WITHOUT_ANSWER
    if chain_has(chain, IncompleteRead, urllib3.exceptions.IncompleteRead):
        return "connection closed before the end of the body"
    if chain_has(chain, ConnectionResetError):
        return "connection reset by the server"
    if chain_has(chain, urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError):
        return "could not decompress the body"
    if chain_has(chain, *_INVALID_URL):
        return f"invalid URL ({type(chain[0]).__name__})"
    if chain_has(chain, urllib3.exceptions.ProtocolError, OSError):
        return f"connection failed: {chain[-1]}"
    return f"{type(chain[-1]).__name__}: {chain[-1]}"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first (urllib3 wraps a lot)."""
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


def secrets(url: str, headers) -> list[str]:
    """What must never be shown of a request, longest first (see `scrub`): the
    values of the headers it sets and the credentials and tokens of its URL."""
    values = [str(v) for k, v in (headers or {}).items() if k.lower() not in PLAIN_HEADERS]
    values += [value.partition(" ")[2] for value in values]  # "Bearer abc": abc alone too
    values += _url_secrets(url)
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.netloc.rpartition("@")[0], parts.username or "", parts.password or ""]
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if SENSITIVE_NAME.search(name):
            found += [value, *(v for k, v in parse_qsl(pair) if k)]
    return found


def scrub(text: str, known: list[str] = ()) -> str:
    """`text` with the `known` secrets masked, and any URL in it made safe."""
    for secret in known:
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub("", text)
    return _SECRET_QUERY_VALUE.sub(r"\1***", text)


class _ScrubLogs(logging.Filter):
    """Scrubs the log records of the libraries below the client: urllib3 logs
    the URL (query string included) of every retry and redirect."""

    def __init__(self, current_secrets):
        super().__init__()
        self.current_secrets = current_secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.current_secrets())
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def scrub_library_logs(current_secrets) -> None:
    """Scrub urllib3's and requests' log records with `current_secrets()`, the
    secrets of the request this thread is making. Filters do not apply to child
    loggers, hence each logger that speaks of URLs."""
    log_filter = _ScrubLogs(current_secrets)
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager",
                 "urllib3.connection", "urllib3.response", "requests"):
        logging.getLogger(name).addFilter(log_filter)
