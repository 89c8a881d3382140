"""
A real instance instrumented with the Python Periskop client, for tests.

`PeriskopInstance` serves, on 127.0.0.1 at a free port, the JSON exported by a
real `periskop_client` collector, through the client's own HTTP handler
(`periskop_client.handler.exception_http_handler`), so that tests see exactly
what a Python service serves: HTTP/1.0 without Content-Length, no answer at all
on another path or with a query string, `target_uuid` per collector.
Exceptions are really raised and caught, then reported, because the client takes
the stack trace (and so the aggregation key) from the exception being handled.
They are raised one frame deep, so the key depends on the class and the message
(or, with a cause, on the cause's): `ValueError("x")` always has one key, and
`ValueError("y")` another.

    with PeriskopInstance() as instance:
        key = instance.report(ValueError("x"), times=3)   # "ValueError@1a2b3c4d"
        instance.report(KeyError("k"), cause=OSError("disk"),
                        http_context={"request_method": "GET", "request_url": "/a"})
        fetch_one(instance.url, ...)                      # http://127.0.0.1:port/errors
        instance.restart()   # a new process: new collector, counts drop, new target_uuid
        instance.hang()      # accept connections, never answer
        instance.trickle()   # 200 and headers, then one byte every 0.2 s
        instance.answer(b"garbage", status=500)           # any fixed answer
        instance.huge(50_000_000)                         # stream that many bytes
        instance.serve()     # back to serving the collector

Misbehaving modes last until `serve()`, `restart()` or `stop()`, which also
release the connections they hold. `instance.requests` counts the requests;
`in_flight` (an `InFlight`, shareable between instances) records how many
were being answered at once; `bytes_sent` what the last streamed answer sent
before the client hung up.
"""

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from periskop_client.collector import ExceptionCollector
from periskop_client.exporter import ExceptionExporter
from periskop_client.handler import exception_http_handler
from periskop_client.models import HTTPContext

# Misbehaving modes give up after this, so a forgotten instance never blocks a run.
MAX_HOLD_SECONDS = 60.0


class InFlight:
    """How many requests are being answered now, and the most at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def exit(self) -> None:
        with self._lock:
            self.current -= 1


@dataclass(frozen=True)
class _Mode:
    name: str = "serve"  # serve, slow, hang, trickle, answer, huge
    seconds: float = 0.0
    interval: float = 0.0
    size: int = 0
    body: bytes = b""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    content_length: bool = True


class PeriskopInstance:
    """A thread serving a real Periskop collector's export; see the module doc."""

    def __init__(self, path: str = "/errors", *, legacy: bool = False, in_flight: InFlight | None = None):
        """`legacy=True` leaves `target_uuid` out, as older clients (and Go's
        before it had one) do, so that the scraper must identify it by URL."""
        self.path = path
        self.legacy = legacy
        self.in_flight = in_flight or InFlight()
        self.requests = 0
        self.bytes_sent = 0
        self._lock = threading.RLock()  # the client's collector is not thread-safe
        self._mode = _Mode()
        self._release = threading.Event()
        self._new_collector()
        handler = self._handler_class()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> "PeriskopInstance":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: the port refuses connections from now on."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "PeriskopInstance":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def address(self) -> str:
        """`host:port`, as discovery gives it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}{self.path}"

    @property
    def target_uuid(self) -> str:
        return self._collector.get_aggregated_exceptions().target_uuid

    # --- what the instance reports ------------------------------------------------

    def report(
        self,
        exception: BaseException,
        times: int = 1,
        *,
        cause: BaseException | None = None,
        http_context: dict[str, Any] | HTTPContext | None = None,
    ) -> str:
        """Raise `exception` (from `cause`), catch it and report it, `times` times;
        returns its aggregation key."""
        context = _http_context(http_context)
        with self._lock:
            before = self.counts()
            for _ in range(times):
                self._raise_and_report(exception, cause, context)
            after = self.counts()
        grown = [key for key, count in after.items() if count > before.get(key, 0)]
        return grown[0] if grown else ""

    def counts(self) -> dict[str, int]:
        """total_count by aggregation key, as the collector holds them."""
        with self._lock:
            aggregates = self._collector.get_aggregated_exceptions().aggregated_errors
            return {a.aggregation_key: a.total_count for a in aggregates}

    def export(self) -> str:
        """The JSON this instance serves now."""
        with self._lock:
            text = self._exporter.export()
        if not self.legacy:
            return text
        document = json.loads(text)
        document.pop("target_uuid", None)
        return json.dumps(document)

    def payload(self) -> dict:
        return json.loads(self.export())

    def restart(self) -> None:
        """As if the process restarted: a new collector (counts from zero, new
        target_uuid), and serving normally again."""
        with self._lock:
            self._new_collector()
        self.serve()

    # --- how it answers -----------------------------------------------------------

    def serve(self) -> None:
        """Answer with the collector's export, as the real client does."""
        self._set_mode(_Mode())

    def slow(self, seconds: float) -> None:
        """Answer normally, but only after `seconds`."""
        self._set_mode(_Mode("slow", seconds=seconds))

    def hang(self, seconds: float = MAX_HOLD_SECONDS) -> None:
        """Accept connections and read requests, but answer nothing for `seconds`
        (or until the mode changes), then close the connection."""
        self._set_mode(_Mode("hang", seconds=seconds))

    def trickle(self, interval: float = 0.2, seconds: float = MAX_HOLD_SECONDS) -> None:
        """Send 200 and headers at once, then one space (valid JSON whitespace)
        every `interval` seconds, never finishing the body."""
        self._set_mode(_Mode("trickle", seconds=seconds, interval=interval, body=b" "))

    def answer(
        self,
        body: bytes | str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        content_length: bool = True,
    ) -> None:
        """Answer every request with this status, headers and body."""
        data = body.encode() if isinstance(body, str) else body
        fixed = tuple((headers or {"Content-Type": "application/json"}).items())
        self._set_mode(_Mode("answer", body=data, status=status, headers=fixed, content_length=content_length))

    def huge(self, size: int, *, content_length: bool = False) -> None:
        """Stream `size` bytes of JSON whitespace (in 64 KiB writes) until the
        client hangs up; `bytes_sent` then says how far it got."""
        self._set_mode(_Mode("huge", size=size, content_length=content_length))

    # --- inside -------------------------------------------------------------------

    def _new_collector(self) -> None:
        self._collector = ExceptionCollector()
        self._exporter = ExceptionExporter(self._collector)

    def _set_mode(self, mode: _Mode) -> None:
        # Wake the connections held by the previous mode, then start afresh.
        self._release.set()
        self._release = threading.Event()
        self._mode = mode

    def _raise_and_report(
        self, exception: BaseException, cause: BaseException | None, context: HTTPContext | None
    ) -> None:
        # Fresh tracebacks each time: re-raising an exception object extends its
        # traceback, which would change the stack text and so the aggregation key.
        for item in (exception, cause):
            if item is not None:
                item.__traceback__, item.__cause__, item.__context__ = None, None, None
        # Raised here, one frame deep: the client's key hashes the first five lines
        # of the traceback, so with this short one it covers the class and the
        # message (or the cause's), and the same exception always gets one key.
        try:
            if cause is None:
                raise exception
            try:
                raise cause
            except BaseException as inner:
                raise exception from inner
        except BaseException:
            if context is None:
                self._collector.report(exception)
            else:
                self._collector.report_with_context(exception, context)

    def _handler_class(self) -> type:
        instance = self

        class _Exporter:
            # The real handler calls export(); this one locks and honours `legacy`.
            def export(self) -> str:
                return instance.export()

        real_handler = exception_http_handler(self.path, _Exporter())

        class Handler(real_handler):  # type: ignore[misc, valid-type]
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                instance.requests += 1
                instance.in_flight.enter()
                try:
                    instance._answer(self, super().do_GET)
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    pass  # the client gave up, as it should
                finally:
                    instance.in_flight.exit()

        return Handler

    def _answer(self, handler: Any, serve: Any) -> None:
        mode, release = self._mode, self._release
        if mode.name == "slow":
            release.wait(mode.seconds)
        if mode.name in ("serve", "slow"):
            serve()
        elif mode.name == "hang":
            release.wait(mode.seconds)
        elif mode.name == "answer":
            _send_head(handler, mode.status, dict(mode.headers), len(mode.body) if mode.content_length else None)
            handler.wfile.write(mode.body)
        elif mode.name == "trickle":
            self._trickle(handler, mode, release)
        elif mode.name == "huge":
            self._stream(handler, mode.size, mode.content_length)

    def _trickle(self, handler: Any, mode: _Mode, release: threading.Event) -> None:
        _send_head(handler, 200, {"Content-Type": "application/json"}, None)
        handler.wfile.flush()
        stop_at = time.monotonic() + mode.seconds
        while time.monotonic() < stop_at and not release.wait(mode.interval):
            handler.wfile.write(mode.body)
            handler.wfile.flush()

    def _stream(self, handler: Any, size: int, content_length: bool) -> None:
        self.bytes_sent = 0
        _send_head(handler, 200, {"Content-Type": "application/json"}, size if content_length else None)
        chunk = b" " * 65536
        while self.bytes_sent < size:
            piece = chunk[: size - self.bytes_sent]
            handler.wfile.write(piece)
            self.bytes_sent += len(piece)


def _http_context(value: dict[str, Any] | HTTPContext | None) -> HTTPContext | None:
    if value is None or isinstance(value, HTTPContext):
        return value
    return HTTPContext(
        request_method=value.get("request_method", "GET"),
        request_url=value.get("request_url", "http://example.com/"),
        request_headers=value.get("request_headers"),
        request_body=value.get("request_body"),
    )


def _send_head(handler: Any, status: int, headers: dict[str, str], length: int | None) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()
