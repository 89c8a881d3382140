"""
Where check code runs: a small supervised pool of worker processes, never a thread
of the process that answers requests.

A check is code the service does not control. On a thread of the web process, a
check that hangs keeps its thread for ever, one that holds the GIL (a runaway
regular expression) stalls every request, and one that raises `SystemExit` ends
the process. In a check process none of this reaches the server:

* a run past its time limit is stopped: its process is killed (SIGKILL) and
  replaced, and the run is reported as timed out;
* any `BaseException` of the check (`SystemExit`, `KeyboardInterrupt` included)
  is caught in the check process and comes back as a crash;
* a check process that dies (killed, `os._exit`) is replaced, and its run is a
  crash;
* the data is made JSON-safe and capped (`audits.check_data`) in the check
  process, so nothing that cannot be pickled, stored or served comes back;
* the run's resolved `${VAR}` values come with it, so that the check process's
  log lines (urllib3 logs the URLs it retries) are redacted of them too
  (`foundation.log_redaction`), though it was forked before they were resolved.

`call_many()` runs a batch (a cold project) from one caller thread: the runs sent
at once travel down each check process's pipe in one message, and the outcomes
that end together come back in one message; `call()` is a batch of one.

Each check process has a pipe of its own to the process that started it, as in
Celery's prefork pool (AsynPool): billiard's plain `Pool` shares one queue lock
between its workers, and a worker killed at its hard time limit could leave that
lock held, after which the pool served nothing (seen under concurrent use).

A check process runs up to `CHECK_PROCESS_THREADS` checks at once, each on a
thread of its own (checks wait on the network nearly all the time), and stays up
between runs, keeping its threads' HTTP keep-alive connections. Runs go to the
least busy process that has room; a new process is forked only when every one is
full, up to `CHECK_PROCESSES` per process that runs checks. So a cold project of
200 checks runs at once in a handful of processes, where one process per check
would fork 200. The price of sharing: a check that holds the GIL slows the
checks running beside it in its process (never the server's), and when one run
passes its time limit, or ends its process, its process is retired: it takes no
new run, is killed as soon as the runs still in it are done (a run that cannot be
stopped otherwise), and is replaced. A run in a process that died is a crash.
Processes are forked, so they start in milliseconds with the service's settings
and check modules already loaded.
"""

import itertools
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from audits import check_data, checkmodules
from foundation import placeholders

# How long a caller may wait for a free check process, in time limits: every run
# ends at its limit, so only a queue longer than the pool waits this long.
QUEUE_LIMITS = 4
# Time the pipe gets beyond the limit before the check process is killed: an async
# check is cancelled at the limit by its own event loop and says so.
KILL_GRACE_SECONDS = 0.5


class CheckTimeout(Exception):
    """The run passed its time limit and was stopped."""


class CheckCrash(Exception):
    """The check raised, returned something else than `(bool, data)`, or its process
    died. The message says which; `trace` is the traceback when there is one."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


@sensitive_variables("params", "secrets", "job")  # resolved: never on an error page
def call(module_path: str, params: dict, limit: float, secrets: dict | None = None) -> tuple[bool, Any]:
    """`run(**params)` of the module in a check process, stopped after `limit` s;
    `secrets` are the values resolved into `params` (value -> placeholder)."""
    for ended in call_many([(module_path, params, limit, secrets)], window=1):
        return ended[0][2].value()
    raise AssertionError("call_many() gave no outcome")  # pragma: no cover


class Outcome:
    """What came of one run of `call_many()`: `value()` is `(success, data)`, or
    raises CheckTimeout or CheckCrash."""

    __slots__ = ("message", "error")

    def __init__(self, message: tuple | None = None, error: Exception | None = None):
        self.message, self.error = message, error

    def value(self) -> tuple[bool, Any]:
        if self.error is not None:
            raise self.error
        if self.message[0] == "timeout":
            raise CheckTimeout()
        if self.message[0] == "crash":
            raise CheckCrash(self.message[1], self.message[2])
        return self.message[1], self.message[2]


@sensitive_variables("calls", "job", "jobs")
def call_many(calls, window: int):
    """
    Run each `(module_path, params, limit, secrets)` of `calls` as `call()` does,
    at most `window` at once, and yield the lists of `(index, started, Outcome)`
    that end together, as they end (`started`: the `time.time()` it was sent
    at). One caller thread waits for
    them all, and the runs sent at once go down each check process's pipe in one
    message: a cold project costs one trip per process, not a thread and a trip
    per check.
    """
    yield from _Batch(_get_pool(), list(calls), window).outcomes()


class _Batch:
    """The runs of one `call_many()`: sent in windows, read from one queue."""

    def __init__(self, pool: "_Pool", calls: list, window: int):
        self.pool, self.calls, self.window = pool, calls, max(1, window)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.next = 0  # the next call to send
        # index -> (worker, job id, started, deadline on the monotonic clock)
        self.running: dict[int, tuple] = {}
        self.refused: list[tuple] = []  # (index, started, Outcome): no process took them

    def outcomes(self):
        try:
            yield from self._outcomes()
        finally:  # the caller stopped early (an exception): nobody waits for the rest
            for worker, job_id, _, _ in self.running.values():
                worker.forget(job_id)
                self.pool.retire(worker)
            self.running.clear()

    def _outcomes(self):
        self.send_more()
        while self.running or self.refused:
            if self.refused:
                yield self.refused
                self.refused = []
            if not self.running:
                self.send_more()
                continue
            soonest = min(deadline for *_, deadline in self.running.values())
            try:
                ended = [self.queue.get(timeout=max(0.0, soonest - time.monotonic()))]
            except queue.Empty:
                ended = []
            while True:  # what else came meanwhile, answered in one go
                try:
                    ended.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            group = [*self.arrived(ended), *self.expired(time.monotonic())]
            self.send_more()
            if group:
                yield group

    def arrived(self, ended: list):
        for index, message in ended:
            if index not in self.running:
                continue  # timed out already
            worker, _, started, _ = self.running.pop(index)
            if message is None:
                self.pool.retire(worker)
                crash = CheckCrash(f"The check's process died ({worker._exit_reason()})")
                yield index, started, Outcome(error=crash)
            else:
                self.pool.release(worker)
                yield index, started, Outcome(message)

    def expired(self, now: float):
        for index, (worker, job_id, started, deadline) in list(self.running.items()):
            if deadline > now:
                continue
            del self.running[index]
            worker.forget(job_id)
            self.pool.retire(worker)  # stuck: killed once its other runs end
            yield index, started, Outcome(error=CheckTimeout())

    def send_more(self) -> None:
        """Send calls up to the window, those for one process in one message."""
        by_worker: dict[_Worker, list] = {}
        while self.next < len(self.calls) and len(self.running) < self.window:
            index, self.next = self.next, self.next + 1
            module_path, params, limit, secrets = self.calls[index]
            # With runs of its own in flight, the batch waits for them rather than
            # for a free process: their ends free the places it would wait for.
            wait = 0 if self.running else limit * QUEUE_LIMITS
            try:
                worker = self.pool.acquire(timeout=wait)
            except CheckTimeout as exc:  # every process full (for that long)
                if self.running:
                    self.next = index  # sent when one of ours ends
                    break
                self.refused.append((index, time.time(), Outcome(error=exc)))
                continue
            job = (module_path, params, limit, settings.CHECK_MAX_DATA_BYTES, secrets or {})
            job_id = worker.expect(self.queue, index)
            deadline = time.monotonic() + limit + KILL_GRACE_SECONDS
            self.running[index] = (worker, job_id, time.time(), deadline)
            by_worker.setdefault(worker, []).append((job_id, job))
        for worker, jobs in by_worker.items():
            worker.send(jobs)


class _Worker:
    """One check process, its end of the pipe, and the runs in flight in it: a
    thread reads every outcome and puts it on the queue of the caller that waits
    for it, `(index, message)`, `message` None when the process died."""

    def __init__(self):
        self.conn, child_conn = _context.Pipe()
        self.process = _context.Process(target=_serve, args=(child_conn,), daemon=True)
        _start(self.process)
        child_conn.close()
        self.busy = 0  # runs lent out: the pool's to count, under its lock
        self.retired = False
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.waiting: dict[int, tuple[queue.SimpleQueue, int]] = {}
        self.dead = False
        self.ids = itertools.count()
        self.reader = threading.Thread(target=self._read, daemon=True,
                                       name=f"check-process-{self.process.pid}")
        self.reader.start()

    def expect(self, answers: queue.SimpleQueue, index: int) -> int:
        """A new job id, whose outcome goes on `answers` as `(index, message)`."""
        job_id = next(self.ids)
        with self.lock:
            if self.dead:
                answers.put((index, None))
            else:
                self.waiting[job_id] = (answers, index)
        return job_id

    def forget(self, job_id: int) -> None:
        """Its caller gave up on the job (its time limit)."""
        with self.lock:
            self.waiting.pop(job_id, None)

    def send(self, jobs: list) -> None:
        """Send `[(job_id, job), ...]` in one message; a process that cannot be
        reached any more answers each with None (it died)."""
        try:
            with self.send_lock:
                self.conn.send(jobs)
        except (OSError, ValueError):
            with self.lock:
                lost = [self.waiting.pop(job_id, None) for job_id, _ in jobs]
            for answers, index in filter(None, lost):
                answers.put((index, None))

    def _read(self) -> None:
        while True:
            try:
                answered = self.conn.recv()  # [(job_id, outcome), ...]
            except Exception:  # EOF: the process died, or was killed and its pipe closed
                break
            with self.lock:
                callers = [(self.waiting.pop(job_id, None), outcome)
                           for job_id, outcome in answered]
            for caller, outcome in callers:
                if caller is not None:  # None: its caller gave up at the time limit
                    caller[0].put((caller[1], outcome))
        with self.lock:
            self.dead = True
            orphans, self.waiting = list(self.waiting.values()), {}
        for answers, index in orphans:
            answers.put((index, None))  # no outcome: a crash

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=5)  # reaped, never left a zombie
        self.reader.join(timeout=5)  # it sees the end of the pipe
        self.conn.close()

    def _exit_reason(self) -> str:
        self.process.join(timeout=1)
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"signal {signal.Signals(-code).name}"
        return f"exit code {code}"


def _start(process) -> None:
    """
    Start `process`, also from a daemonic process: a Celery prefork pool process is
    one, and multiprocessing refuses children to those, lest they be orphaned when
    it is terminated. A check process ends when its pipe closes, and is killed at
    its time limit, so it may be one's child.
    """
    config = multiprocessing.current_process()._config
    with _daemon_flag_lock:  # the flag is the process's: one start at a time lifts it
        daemonic = config.pop("daemon", None)
        try:
            process.start()
        finally:
            if daemonic is not None:
                config["daemon"] = daemonic


class _Pool:
    """Up to `size` check processes, started as they are needed, each lent to up
    to `threads` callers at a time: the least busy first."""

    def __init__(self, size: int, threads: int):
        self.size, self.threads = size, threads
        self.workers: list[_Worker] = []
        self.starting = 0
        self.changed = threading.Condition()

    def acquire(self, timeout: float) -> _Worker:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                free = [w for w in self.workers if w.busy < self.threads]
                if free:
                    worker = min(free, key=lambda w: w.busy)
                    worker.busy += 1
                    return worker
                if len(self.workers) + self.starting < self.size:
                    self.starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.changed.wait(remaining):
                    raise CheckTimeout() from None
        try:
            worker = _Worker()  # outside the lock: the others keep being served
        finally:
            with self.changed:
                self.starting -= 1
                self.changed.notify_all()
        with self.changed:
            worker.busy = 1
            self.workers.append(worker)
        return worker

    def release(self, worker: _Worker) -> None:
        with self.changed:
            worker.busy -= 1
            done = worker.retired and worker.busy == 0
            self.changed.notify()
        if done:
            worker.kill()

    def retire(self, worker: _Worker) -> None:
        """No new run for `worker`: killed once the runs still in it are done, and
        replaced (its place is free at once)."""
        with self.changed:
            worker.busy -= 1
            if not worker.retired:
                worker.retired = True
                self.workers.remove(worker)
            done = worker.busy == 0
            self.changed.notify_all()
        if done:
            worker.kill()


# --- In the check process -------------------------------------------------------------


def _serve(conn) -> None:
    """The check process: run the jobs that come down the pipe, each on a thread,
    until it closes. Outcomes go back as they end, those that end together in one
    message."""
    _forget_inherited_state()
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def run_and_answer(job_id: int, job: tuple) -> None:
        outbox.put((job_id, _run(*job)))

    threading.Thread(target=_answer, args=(conn, outbox), daemon=True, name="answers").start()
    threads = ThreadPoolExecutor(settings.CHECK_PROCESS_THREADS, thread_name_prefix="check")
    while True:
        try:
            jobs = conn.recv()  # [(job_id, job), ...]
        except (EOFError, OSError):
            # The serving process is gone, and so is the reason to live: at once,
            # without waiting for the threads of runs nobody waits for.
            os._exit(0)
        for job_id, job in jobs:
            threads.submit(run_and_answer, job_id, job)


def _answer(conn, outbox: queue.SimpleQueue) -> None:
    """Send the outcomes of the check process's runs, as many as are ready at
    once in one message."""
    while True:
        answered = [outbox.get()]
        while True:
            try:
                answered.append(outbox.get_nowait())
            except queue.Empty:
                break
        try:
            conn.send(answered)
        except (OSError, ValueError):
            os._exit(0)  # the serving process is gone


def _forget_inherited_state() -> None:
    # checks.http forgets the parent's keep-alive connections by itself (at fork).
    # Ctrl-C is for the parent to handle; SIGTERM ends a check process at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(module_path: str, params: dict, limit: float, max_bytes: int, secrets: dict) -> tuple:
    """("ok", success, data), ("timeout",) or ("crash", message, traceback)."""
    import asyncio

    placeholders.remember(secrets)
    started = time.monotonic()
    try:
        module = checkmodules.load(module_path)
        if module.is_async:  # cancelled at the limit by its own loop
            value = asyncio.run(asyncio.wait_for(module.run(**params), limit))
        else:
            value = module.run(**params)
        success, data = _unpacked(value)
        return "ok", success, check_data.make_safe(data, max_bytes)
    except TimeoutError as exc:
        # Ours (the limit), or one the check raised itself (a socket timeout...).
        if time.monotonic() - started >= limit * 0.99:
            return ("timeout",)
        return "crash", describe(exc), _trace(exc)
    except BaseException as exc:  # SystemExit too: a check never ends its process
        return "crash", describe(exc), _trace(exc)


def _unpacked(value: Any) -> tuple[bool, Any]:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool)):
        shown = check_data.as_text(value)[:100]
        raise TypeError(f"run() must return (success: bool, data), not {shown}")
    return value


def describe(exc: BaseException) -> str:
    """`Type: message`, even for an exception whose `__str__` raises."""
    return f"{type(exc).__name__}: {check_data.as_text(exc)}"


def _trace(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception:
        return describe(exc)


# --- The pool of this process -----------------------------------------------------------


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool(settings.CHECK_PROCESSES, settings.CHECK_PROCESS_THREADS)
        return _pool


def _forget_pool_after_fork() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()  # a child has none of its parent's workers


_context = multiprocessing.get_context("fork")
_daemon_flag_lock = threading.Lock()
_pool: _Pool | None = None
_pool_lock = threading.Lock()
os.register_at_fork(after_in_child=_forget_pool_after_fork)
