"""Waiting in tests for something another thread or process does, without sleeps."""

import time


def wait_until(predicate, timeout: float = 5.0, message="timed out waiting", interval=0.05):
    """Poll `predicate` until it returns something true, and return that; fail after
    `timeout` seconds with `message` (a string, or a callable giving one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout:g} s: {text}")
        time.sleep(interval)
