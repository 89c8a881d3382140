"""
Raw TCP servers on 127.0.0.1, for what a well-behaved HTTP server never does
(trickle headers, stall in the middle of a body), and free ports for refusals.

    def handle(sock):          # one connection: read the request, misbehave
        sock.recv(65536)
        sock.sendall(b"HTTP/1.1 200 OK\\r\\n")
    with raw_server(handle) as url:   # http://127.0.0.1:port/errors
        ...
    with raw_server(trickling_body) as url:   # a ready-made slow drip
        ...
"""

import socket
import socketserver
import threading
import time
from contextlib import contextmanager


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def raw_server(handle, path: str = "/errors"):
    """A TCP server on 127.0.0.1 whose connections `handle(socket)` serves."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                handle(self.request)
            except OSError:
                pass  # the client hung up

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()


def trickling_body(sock, interval: float = 0.1) -> None:
    """Answer 200 with a Content-Length of 1000, then one byte every `interval`:
    each read succeeds, so only a total deadline stops the client."""
    sock.recv(65536)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        sock.sendall(b" ")
        time.sleep(interval)


def trickling_headers(sock, interval: float = 0.1) -> None:
    """Send the status line, then one header every `interval`, never the body."""
    sock.recv(65536)
    sock.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(1000):
        sock.sendall(b"X-Slow: a\r\n")
        time.sleep(interval)
