"""Sleeps `seconds`, then passes with the id of the process it ran in."""

import os
import time


def run(seconds: float = 0.0) -> tuple[bool, int]:
    time.sleep(seconds)
    return True, os.getpid()
