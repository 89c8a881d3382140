"""
Counts its runs in a file that every process shares (tests read `calls()`): checks
run in worker processes (`audits.execution`), so a module global would count only
the runs of one of them. Sleeps `seconds` first.
"""

import fcntl
import os
import tempfile
import time
from pathlib import Path

# Set once, in the test process; the check processes are forked from it.
PATH = Path(tempfile.gettempdir()) / f"checkmods-counter-{os.getpid()}"


def run(seconds: float = 0.0, key: str = "") -> tuple[bool, int]:
    time.sleep(seconds)
    with PATH.open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # the append and the count are one step
        file.write(key + "\n")
        file.flush()
        file.seek(0)
        return True, len(file.read().splitlines())


def calls() -> list[str]:
    """The keys of the runs so far, in order."""
    try:
        return PATH.read_text().splitlines()
    except FileNotFoundError:
        return []


def reset() -> None:
    PATH.unlink(missing_ok=True)
