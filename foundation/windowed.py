"""
Many calls on a thread pool, at most `window` in flight, each handed back as soon
as it finishes: the runner's project and tag runs, and the scraper's fetch of a
service's instances.

The next call is taken from the iterable only when one finishes, so memory does
not grow with the number of calls (the calls may come from a generator), and a
slow call never holds up the ones behind it.
"""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any


def as_finished(
    executor: Executor, calls: Iterable[tuple[Any, Callable, tuple]], window: int
) -> Iterator[tuple[Any, Future]]:
    """(key, future) for each `(key, function, args)` of `calls`, as they finish."""
    if window < 1:
        raise ValueError("window must be at least 1")
    calls = iter(calls)
    in_flight: dict[Future, Any] = {}

    def submit_next() -> None:
        for key, function, args in calls:  # takes one call, if any is left
            in_flight[executor.submit(function, *args)] = key
            return

    for _ in range(window):
        submit_next()
    while in_flight:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            key = in_flight.pop(future)
            submit_next()  # refill first: the slot works while the caller handles this one
            yield key, future
