"""
The one lock: that a check never runs twice at once, that a service is not scraped
twice at once, that one Celery beat leads.

`lock(name, timeout)` is redis-py's `Lock` when the cache is Redis (`REDIS_URL`),
on the cache's own client and under its key prefix: taken with `SET NX PX`,
released, extended and renewed by Lua scripts that check the owner's token, each
in one atomic step, across processes and machines. Otherwise (the embedded mode,
one process) it is a `LocalLock`: the same class, the same interface, its steps
made atomic by a threading lock instead of Lua.

A lock taken with `try_acquire()` is a lease: it expires `LEASE_SECONDS` after
it was taken, and a thread of the holder's process renews it every third of that
while the holder works, for `timeout` seconds at most. A process that dies (kill
-9, a machine lost) stops renewing, and its locks are free within `LEASE_SECONDS`;
a holder that works on past `timeout` loses it, as before. Since only the holder's
token releases or renews a lock, a holder whose lock expired (and was taken by
someone else meanwhile) cannot release or renew the new holder's.

On Redis, every step goes through `foundation.cache.breaker`: a Redis that failed
to answer a moment ago is not asked again (no second timeout) until it may be back.

Callers go through `try_acquire()` and `release()`, where a cache that is down
means going on without the lock (running without a lock beats not answering), or
through `hold()`, for a leader, which must rather stand by.
"""

import logging
import os
import threading
import time
import uuid

import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.connection import Encoder
from redis.exceptions import LockError, LockNotOwnedError

from foundation.cache import breaker

logger = logging.getLogger(__name__)

# A lock without expiry could outlive its process for good.
MIN_TIMEOUT = 0.001
# How long a lock outlives a holder that stopped renewing it (a dead process).
LEASE_SECONDS = 10.0


def lock(name: str, timeout: float) -> redis.lock.Lock:
    """The lock `name`, held for `timeout` seconds at most: taken with
    `try_acquire()`, a lease renewed until then; with `hold()`, for `timeout`."""
    cache = caches["default"]
    key = cache.make_key(f"lock:{name}")
    timeout = max(timeout, MIN_TIMEOUT)
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(key, write=True)
        # Not thread-local: the renewing thread extends it with the holder's token.
        return RedisLock(client, key, timeout=timeout, thread_local=False)
    return LocalLock(key, timeout, thread_local=False)


def try_acquire(held: redis.lock.Lock) -> bool:
    """Take the lock if nobody holds it, as a lease renewed until `release()` (see
    the module docstring); never waits. True when the cache is down."""
    lease = held.timeout
    held.timeout = min(lease, LEASE_SECONDS)
    try:
        taken = held.acquire(blocking=False)
    except redis.RedisError as exc:
        logger.warning("Lock %s unavailable (%s); running without it", held.name, exc)
        return True
    finally:
        held.timeout = lease
    if taken and lease > LEASE_SECONDS:
        _renewer().add(held, time.monotonic() + lease)
    return taken


def release(held: redis.lock.Lock) -> None:
    """Let go of the lock if it is still ours; never raises."""
    _renewer().discard(held)
    try:
        held.release()
    except LockNotOwnedError:
        logger.warning("Lock %s expired before its release: the work outlasted it", held.name)
    except redis.RedisError:
        pass  # not taken (the cache was down), or the cache is down: it expires by itself


def try_acquire_many(wanted: dict) -> dict:
    """`try_acquire()` of each lock of `wanted` ({id: lock}), in one round trip per
    Redis client: the locks that were free, now ours, by id (all of them when the
    cache is down)."""
    taken, remote = {}, {}
    for name, held in wanted.items():
        if isinstance(held, LocalLock) or not isinstance(held.redis, redis.Redis):
            if try_acquire(held):
                taken[name] = held
        else:
            remote.setdefault(id(held.redis), []).append((name, held))
    for pairs in remote.values():
        tokens = [uuid.uuid1().hex.encode() for _ in pairs]
        try:
            with pairs[0][1].redis.pipeline(transaction=False) as pipe:
                for (_, held), token in zip(pairs, tokens):
                    # A lease, as try_acquire() takes it: renewed below.
                    lease = min(held.timeout, LEASE_SECONDS)
                    pipe.set(held.name, token, nx=True, px=int(lease * 1000))
                answers = breaker.guard(pipe.execute)
        except redis.RedisError as exc:
            logger.warning("Locks unavailable (%s); running without them", exc)
            answers = [True] * len(pairs)  # as try_acquire(): not taken, nothing to release
            tokens = [None] * len(pairs)
        for (name, held), token, answer in zip(pairs, tokens, answers):
            if answer:
                held.local.token = token
                taken[name] = held
                if token is not None and held.timeout > LEASE_SECONDS:
                    _renewer().add(held, time.monotonic() + held.timeout)
    return taken


def release_many(taken) -> None:
    """`release()` of each of the locks `taken` (None: nothing to release), in
    one round trip per Redis client; never raises."""
    remote = {}
    for held in taken:
        if held is None:
            continue
        _renewer().discard(held)
        if isinstance(held, LocalLock) or not isinstance(held.redis, redis.Redis):
            release(held)
        elif held.local.token is not None:  # None: taken while the cache was down
            remote.setdefault(id(held.redis), []).append(held)
    for locks in remote.values():
        try:
            with locks[0].redis.pipeline(transaction=False) as pipe:
                for held in locks:
                    held.lua_release(keys=[held.name], args=[held.local.token], client=pipe)
                released = breaker.guard(pipe.execute)
        except redis.RedisError:
            continue  # the cache is down: they expire by themselves
        for held, done in zip(locks, released):
            held.local.token = None
            if not done:
                logger.warning("Lock %s expired before its release: the work outlasted it",
                               held.name)


def hold(held: redis.lock.Lock) -> bool:
    """Keep the lock for another `timeout` if it is ours, or take it if it is free;
    False while someone else holds it. Raises redis.RedisError when the cache is
    down: who cannot tell whether it leads must not act as the leader. Not renewed
    by a thread: the holder renews it by calling this again."""
    try:
        return held.reacquire()
    except LockError:  # not ours, or not any more
        return held.acquire(blocking=False)


class RedisLock(redis.lock.Lock):
    """redis-py's Lock, each step through the breaker of `foundation.cache`."""

    def do_acquire(self, token):
        return breaker.guard(super().do_acquire, token)

    def do_release(self, expected_token):
        return breaker.guard(super().do_release, expected_token)

    def do_extend(self, additional_time, replace_ttl):
        return breaker.guard(super().do_extend, additional_time, replace_ttl)

    def do_reacquire(self):
        return breaker.guard(super().do_reacquire)


class Renewer:
    """A thread that extends the leases held in this process, every third of
    LEASE_SECONDS, until each is released or reaches its holder's `timeout`."""

    def __init__(self):
        self._held: dict[int, tuple[redis.lock.Lock, float]] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="lock-renewer", daemon=True).start()

    def add(self, held: redis.lock.Lock, until: float) -> None:
        with self._guard:
            self._held[id(held)] = (held, until)

    def discard(self, held: redis.lock.Lock) -> None:
        with self._guard:
            self._held.pop(id(held), None)

    def _run(self) -> None:
        while True:
            self._wake.wait(LEASE_SECONDS / 3)
            with self._guard:
                held = list(self._held.values())
            for lock_, until in held:
                if not self._renew(lock_, until):
                    break  # Redis does not answer: the others would wait in turn

    def _renew(self, held: redis.lock.Lock, until: float) -> bool:
        """Extend one lease; False when Redis did not answer."""
        now = time.monotonic()
        if now >= until:
            self.discard(held)  # the holder's `timeout`: the lease ends by itself
            return True
        try:
            held.extend(min(LEASE_SECONDS, until - now), replace_ttl=True)
        except LockError:  # expired, maybe taken by another: nothing to renew
            logger.warning("Lock %s was lost before its release", held.name)
            self.discard(held)
        except redis.RedisError as exc:
            logger.warning("Cannot renew lock %s (%s)", held.name, exc)
            return False
        return True


_renewer_instance: Renewer | None = None
_renewer_guard = threading.Lock()


def _forget_renewer_after_fork() -> None:
    """A forked child (Celery's prefork pool) holds none of its parent's leases,
    and its copy of the guard may have been held by a thread that is not there."""
    global _renewer_instance, _renewer_guard
    _renewer_instance = None
    _renewer_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_renewer_after_fork)


def _renewer() -> Renewer:
    """This process's renewer, started on first use."""
    global _renewer_instance
    with _renewer_guard:
        if _renewer_instance is None:
            _renewer_instance = Renewer()
        return _renewer_instance


class _Tokens:
    """What redis-py's Lock asks of its client besides the steps LocalLock replaces:
    an encoder, for tokens given to `acquire(token=...)`."""

    @staticmethod
    def get_encoder() -> Encoder:
        return Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False)


class LocalLock(redis.lock.Lock):
    """redis-py's Lock, held in this process's memory (name -> token, expiry)."""

    _holders: dict[str, tuple[bytes, float]] = {}
    _guard = threading.Lock()  # makes each step below atomic, as Lua does in Redis

    def __init__(self, name: str, timeout: float, **options):
        super().__init__(_Tokens(), name, timeout=timeout, **options)

    def register_scripts(self) -> None:
        pass  # no Lua here

    def do_acquire(self, token: bytes) -> bool:
        with self._guard:
            if self._holder() is not None:
                return False
            self._holders[self.name] = (token, time.monotonic() + self.timeout)
            return True

    def locked(self) -> bool:
        with self._guard:
            return self._holder() is not None

    def owned(self) -> bool:
        with self._guard:
            return self.local.token is not None and self._holder() == self.local.token

    def do_release(self, expected_token: bytes) -> None:
        with self._guard:
            self._require(expected_token, "release")
            del self._holders[self.name]

    def do_extend(self, additional_time: float, replace_ttl: bool) -> bool:
        with self._guard:
            self._require(self.local.token, "extend")
            token, expires = self._holders[self.name]
            now = time.monotonic()
            self._holders[self.name] = (token, (now if replace_ttl else expires) + additional_time)
            return True

    def do_reacquire(self) -> bool:
        with self._guard:
            self._require(self.local.token, "reacquire")
            self._holders[self.name] = (self.local.token, time.monotonic() + self.timeout)
            return True

    def _holder(self) -> bytes | None:
        """The token holding the lock now; an expired one is forgotten."""
        token, expires = self._holders.get(self.name, (None, 0.0))
        if token is not None and expires <= time.monotonic():
            del self._holders[self.name]
            return None
        return token

    def _require(self, token: bytes | None, step: str) -> None:
        if token is None or self._holder() != token:
            raise LockNotOwnedError(
                f"Cannot {step} a lock that's no longer owned", lock_name=self.name
            )
