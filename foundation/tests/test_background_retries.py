"""Embedded mode: a task that retries waits for its countdown, as on a worker."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from celery import shared_task

from foundation import background
from testing.waiting import wait_until

ATTEMPTS: list[int] = []


@shared_task(
    name="foundation.tests.flaky",
    autoretry_for=(RuntimeError,),
    retry_backoff=True,
    retry_jitter=False,
    retry_kwargs={"max_retries": 3},
)
def flaky(marker: int) -> None:
    ATTEMPTS.append(marker)
    raise RuntimeError("receiver down")


@pytest.fixture(autouse=True)
def _no_attempts(monkeypatch):
    ATTEMPTS.clear()
    # A pool of its own: tasks that earlier tests left running must not delay these.
    pool = ThreadPoolExecutor(2, thread_name_prefix="test-tasks")
    monkeypatch.setattr(background, "_pool", pool)
    yield
    background.cancel_waiting_retries()
    pool.shutdown(wait=False)


def countdowns() -> list[float]:
    return [seconds for name, seconds in background.waiting_retries() if name == flaky.name]


def test_an_embedded_retry_waits_for_its_backoff_instead_of_running_at_once():
    assert background.runs_here(flaky)
    background.enqueue(flaky, 7)
    wait_until(lambda: countdowns() == [1], message=lambda: f"{countdowns()} {ATTEMPTS}")
    assert ATTEMPTS == [7]  # one attempt so far: the retry waits its second
    wait_until(lambda: countdowns() == [2], message=lambda: f"{countdowns()} {ATTEMPTS}")
    assert ATTEMPTS == [7, 7]  # the backoff doubles

