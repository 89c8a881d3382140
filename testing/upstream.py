"""
A real HTTP server on 127.0.0.1 that tests program route by route.

Checks and scrapes must be tested against a real socket, not only with `responses`:
this server answers each path with the status, headers, body and delay a test gave
it, and records the requests it received.

    upstream.route("/__heartbeat__", json={"ok": True})
    upstream.route("/slow", body=b"late", delay=2.0)
    requests.get(upstream.url("/slow"))
"""

import json as jsonlib
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


# What a client that stops listening looks like to the server writing its answer.
HUNG_UP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients hang up on this server by design: the tests of timeouts give up on
        # a slow route before it answers, and the answer then meets a closed socket
        # (often after the test is over, so the traceback used to land in the
        # middle of the run's output). That is the client's behaviour under test,
        # not an error of the server. Anything else is, and is printed as before.
        if isinstance(sys.exc_info()[1], HUNG_UP):
            return
        super().handle_error(request, client_address)


class Upstream:
    """The server; `route()` programs it, `requests` lists what it received."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.bodies: dict[str, list[bytes]] = {}  # request bodies by path
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def localhost_url(self, path: str = "/") -> str:
        """The same server under another host name, for cross-host redirects."""
        return f"http://localhost:{self.port}{path}"

    def route(self, path, status=200, body=b"", headers=None, delay=0.0, json=None):
        headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        self.routes[path] = Route(status, body, headers, delay)
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p.split("?")[0] == path)

    def received(self, method: str, path: str, headers: dict, body: bytes):
        """Record a request as it arrives; what it returns goes to `answering()`.
        Subclasses extend these two to trace more."""
        self.requests.append((method, path, headers))
        if method == "POST":
            self.bodies.setdefault(path.split("?")[0], []).append(body)

    def answering(self, token) -> None:
        """Called after the route's delay, just before the answer is sent."""

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, a reused
            # keep-alive connection waits ~40 ms on Nagle and delayed ACKs.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, send_body: bool, body: bytes = b""):
                token = upstream.received(self.command, self.path, dict(self.headers), body)
                route = upstream.routes.get(self.path.split("?")[0])
                if route is None:
                    route = Route(404, b"not found", {"Content-Type": "text/plain"})
                time.sleep(route.delay)
                upstream.answering(token)
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(route.body)

            def do_GET(self):
                self._answer(send_body=True)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(send_body=True, body=self.rfile.read(length))

            def do_HEAD(self):
                self._answer(send_body=False)

        return Handler
