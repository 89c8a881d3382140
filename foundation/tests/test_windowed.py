"""`as_finished`: at most `window` calls in flight, each handed back as it finishes."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from foundation.windowed import as_finished


def test_every_call_is_handed_back_with_its_key():
    with ThreadPoolExecutor(4) as executor:
        calls = ((n, pow, (n, 2)) for n in range(10))
        results = {key: future.result() for key, future in as_finished(executor, calls, 3)}
    assert results == {n: n * n for n in range(10)}


def test_no_more_than_the_window_is_ever_in_flight():
    running, most, lock = 0, 0, threading.Lock()

    def call():
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    with ThreadPoolExecutor(8) as executor:
        list(as_finished(executor, ((n, call, ()) for n in range(20)), 3))
    assert most <= 3


def test_a_fast_call_is_handed_back_before_a_slow_one_started_earlier():
    slow_started = threading.Event()

    def slow():
        slow_started.set()
        time.sleep(0.5)

    def fast():
        slow_started.wait()

    with ThreadPoolExecutor(2) as executor:
        order = [key for key, _ in as_finished(executor, [("slow", slow, ()), ("fast", fast, ())], 2)]
    assert order == ["fast", "slow"]


def test_calls_are_taken_from_the_iterable_only_as_slots_free_up():
    taken = []

    def calls():
        for n in range(5):
            taken.append(n)
            yield n, int, ()

    with ThreadPoolExecutor(2) as executor:
        finished = as_finished(executor, calls(), 2)
        next(finished)
        assert len(taken) <= 3  # two in flight, plus the one that refilled the slot


def test_a_window_below_one_is_refused():
    with ThreadPoolExecutor(1) as executor, pytest.raises(ValueError, match="at least 1"):
        list(as_finished(executor, [], 0))
