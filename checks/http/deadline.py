"""
The total deadline of one request: its sockets are shut down when it passes.

Connect and read timeouts alone let a server that trickles a byte every second
hold a request forever. `arm(seconds)` starts a deadline for the request this
thread is about to make; the connections of the pools in `POOL_CLASSES` bound
their socket timeouts by it and hand it their socket, and one watchdog thread
shuts those sockets down when the deadline passes, whatever the request was doing
(connecting, waiting for headers, reading the body). `disarm()` ends it and says
whether it had passed, in which case what was read may be cut short.
"""

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Deadline:
    """One request's deadline. Shutting a socket down (not closing it: the
    requesting thread still owns it) wakes a thread blocked on it at once."""

    # Finished deadlines wait in the watchdog's queue until their time: keep them small.
    __slots__ = ("seconds", "at", "_lock", "_sockets", "_state")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
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


def arm(seconds: float) -> Deadline:
    """A deadline `seconds` from now for this thread's next request."""
    deadline = _watchdog.watch(Deadline(seconds))
    _local.deadline = deadline
    return deadline


def disarm() -> bool:
    """Stop watching this thread's request; True if its deadline had passed."""
    deadline, _local.deadline = current(), None
    return deadline is not None and deadline.finish()


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


def remaining() -> float:
    """Seconds left to this thread's request (infinite when none is armed)."""
    deadline = current()
    return float("inf") if deadline is None else deadline.remaining()


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
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties never compare deadlines
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> Deadline:
        with self._wakeup:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # else the thread wakes up in time anyway
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


class _WatchedConnectionMixin:
    """Connections that bound their socket timeouts by the request's deadline
    and hand their socket to it, for the watchdog to shut down."""

    timeout: Any
    sock: socket.socket | None

    def connect(self) -> None:
        deadline = current()
        if deadline is not None:
            self.timeout = _bounded(self.timeout, deadline)
        super().connect()  # type: ignore[misc]
        if deadline is not None:
            deadline.attach(self.sock)

    def getresponse(self):  # type: ignore[no-untyped-def]
        deadline = current()
        if deadline is not None:
            # A reused keep-alive connection did not go through connect().
            deadline.attach(self.sock)
            self.timeout = _bounded(self.timeout, deadline)
        return super().getresponse()  # type: ignore[misc]


def _bounded(value: Any, deadline: Deadline) -> float:
    left = max(deadline.remaining(), 0.001)  # 0 would mean non-blocking
    return left if not isinstance(value, (int, float)) else min(value, left)


class _HTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


# For `PoolManager.pool_classes_by_scheme`: the pools whose connections are watched.
POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


def _reset_after_fork() -> None:
    # A forked worker (Celery prefork, gunicorn) must not wait on a watchdog
    # thread that does not exist in it.
    global _watchdog
    _watchdog = _Watchdog()


_local = threading.local()
_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_reset_after_fork)
