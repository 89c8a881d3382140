"""Counts its runs in a module global (tests read CALLS); sleeps `seconds` first."""

import threading
import time

CALLS = []
_lock = threading.Lock()


def run(seconds: float = 0.0, key: str = "") -> tuple[bool, int]:
    time.sleep(seconds)
    with _lock:
        CALLS.append(key)
        return True, len(CALLS)
