"""Sleeps `seconds`, then passes: tests use it for time limits."""

import time


def run(seconds: float = 10.0) -> tuple[bool, str]:
    time.sleep(seconds)
    return True, "finished"
