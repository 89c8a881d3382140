"""
The tests' HTTP server (testing/upstream.py) is quiet when a client hangs up on it,
which the timeout tests do on purpose, and still reports an error of its own.
"""

import socket
import struct
import threading

import pytest
import requests

from testing.upstream import Upstream
from testing.waiting import wait_until


class WatchedUpstream(Upstream):
    """Remembers the thread that answers, so that a test can wait until it is done."""

    def __init__(self):
        super().__init__()
        self.answering_threads: list[threading.Thread] = []

    def answering(self, token) -> None:
        self.answering_threads.append(threading.current_thread())


class BrokenUpstream(Upstream):
    def received(self, method, path, headers, body):
        raise RuntimeError("the test server itself is broken")


def test_a_client_hanging_up_before_the_answer_prints_no_traceback(capfd):
    server = WatchedUpstream().start()
    try:
        server.route("/slow", body=b"x" * 1_000_000, delay=0.3)
        client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        wait_until(lambda: server.hits("/slow") == 1, message="the request never arrived")
        # Close with a reset while the server waits out the route's delay: its
        # answer then meets a connection the client has dropped.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        (handler,) = wait_until(lambda: server.answering_threads, message="never answered")
        handler.join(10)
        assert not handler.is_alive()
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


def test_an_error_of_the_server_itself_is_still_printed(capfd):
    server = BrokenUpstream().start()
    try:
        # The server drops the connection after printing what went wrong.
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url("/"), timeout=5)
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" in err
    assert "RuntimeError: the test server itself is broken" in err
