"""
The one lock, on both caches: redis-py's `Lock` when the cache is Redis, a
`LocalLock` with the same interface otherwise. Each test runs on both; the Redis
ones need a real Redis (`testing.services`): skipped without it, failed under CI.
"""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import redis

from foundation import locks
from testing import services


def redis_cache(url: str) -> dict:
    # A prefix of its own: other test runs may share this Redis database.
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": url, "KEY_PREFIX": f"test-locks-{uuid.uuid4().hex}"}}


@pytest.fixture(params=["local", "redis"])
def backend(request, settings):
    if request.param == "redis":
        address = urlsplit(services.REDIS_URL)
        services.require("Redis", address.hostname, address.port or 6379)
        settings.CACHES = redis_cache(services.REDIS_URL)
    return request.param


@pytest.fixture
def name() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_the_lock_is_redis_py_s_on_redis_and_local_otherwise(backend, name):
    expected = locks.RedisLock if backend == "redis" else locks.LocalLock
    assert type(locks.lock(name, 10)) is expected
    assert isinstance(locks.lock(name, 10), redis.lock.Lock)


def test_one_holder_at_a_time(backend, name):
    first, second = locks.lock(name, 10), locks.lock(name, 10)
    assert locks.try_acquire(first)
    assert not locks.try_acquire(second)
    locks.release(first)
    assert locks.try_acquire(second)


def test_release_by_a_non_owner_does_nothing(backend, name):
    owner, other = locks.lock(name, 10), locks.lock(name, 10)
    assert locks.try_acquire(owner)
    locks.release(other)
    assert owner.owned() and not locks.try_acquire(locks.lock(name, 10))


def test_an_expired_lock_taken_by_another_is_not_deleted_by_the_first_owners_release(
    backend, name
):
    first = locks.lock(name, 0.2)
    assert locks.try_acquire(first)
    time.sleep(0.3)  # first's work outlived its lock
    second = locks.lock(name, 10)
    assert locks.try_acquire(second)
    locks.release(first)
    assert second.owned() and not first.owned()
    assert not locks.try_acquire(locks.lock(name, 10))


def test_a_lock_expires_by_itself(backend, name):
    assert locks.try_acquire(locks.lock(name, 0.2))
    time.sleep(0.3)
    assert locks.try_acquire(locks.lock(name, 10))


@pytest.fixture
def short_lease(monkeypatch):
    """Leases of 0.3 s, renewed by a renewer of their own (not one asleep for 3 s)."""
    monkeypatch.setattr(locks, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(locks, "_renewer_instance", None)
    return 0.3


def remaining_seconds(held) -> float:
    """How long the lock has left, as its store says, without renewing it."""
    if isinstance(held, locks.LocalLock):
        return held._holders[held.name][1] - time.monotonic()
    return held.redis.pttl(held.name) / 1000


def test_a_lease_is_renewed_while_its_holder_works(backend, name, short_lease):
    held = locks.lock(name, 10)
    assert locks.try_acquire(held)
    assert remaining_seconds(held) <= short_lease  # a lease, not the whole timeout
    time.sleep(short_lease * 4)
    assert not locks.try_acquire(locks.lock(name, 10)), "the lease was not renewed"
    locks.release(held)
    assert locks.try_acquire(locks.lock(name, 10))


def test_a_lease_its_holder_stopped_renewing_frees_within_the_lease(backend, name, short_lease):
    held = locks.lock(name, 60)
    assert locks.try_acquire(held)
    locks._renewer().discard(held)  # what a holder killed with -9 does: nothing more
    time.sleep(short_lease * 1.5)
    assert locks.try_acquire(locks.lock(name, 10))


def test_a_lease_is_renewed_no_longer_than_its_timeout(backend, name, short_lease):
    held = locks.lock(name, short_lease * 2)
    assert locks.try_acquire(held)
    time.sleep(short_lease * 4)  # the holder works on, past its timeout
    assert locks.try_acquire(locks.lock(name, 10))


def test_hold_renews_the_lock_of_its_owner(backend, name):
    leader = locks.lock(name, 0.4)
    assert locks.hold(leader)
    for _ in range(3):  # 0.6 s in all: held only because renewed
        time.sleep(0.2)
        assert locks.hold(leader)
    assert not locks.hold(locks.lock(name, 0.4))


def test_hold_gives_way_to_whoever_took_the_lock_after_it_expired(backend, name):
    leader, standby = locks.lock(name, 0.2), locks.lock(name, 10)
    assert locks.hold(leader)
    time.sleep(0.3)
    assert locks.hold(standby)
    assert not locks.hold(leader)
    assert standby.owned()


def test_extend_adds_time_for_the_owner_only(backend, name):
    owner = locks.lock(name, 0.2)
    assert locks.try_acquire(owner)
    owner.extend(0.3)
    time.sleep(0.3)
    assert owner.owned()
    with pytest.raises(redis.exceptions.LockError):
        locks.lock(name, 10).extend(1)


def test_one_thread_of_many_gets_the_lock(backend, name):
    start = threading.Barrier(16)

    def contend(_) -> bool:
        lock = locks.lock(name, 10)
        start.wait()
        return locks.try_acquire(lock)

    with ThreadPoolExecutor(16) as pool:
        assert sorted(pool.map(contend, range(16))) == [False] * 15 + [True]


def test_many_locks_taken_at_once_are_the_free_ones(backend, name):
    held_elsewhere = locks.lock(f"{name}-1", 10)
    assert locks.try_acquire(held_elsewhere)
    wanted = {i: locks.lock(f"{name}-{i}", 10) for i in range(4)}
    taken = locks.try_acquire_many(wanted)
    assert sorted(taken) == [0, 2, 3]
    assert all(lock.owned() for lock in taken.values())
    assert not locks.try_acquire(locks.lock(f"{name}-2", 10))


def test_many_locks_taken_at_once_are_leases_renewed_until_released(backend, name, short_lease):
    taken = locks.try_acquire_many({i: locks.lock(f"{name}-{i}", 10) for i in range(2)})
    assert all(remaining_seconds(held) <= short_lease for held in taken.values())
    time.sleep(short_lease * 4)
    assert not locks.try_acquire(locks.lock(f"{name}-1", 10)), "the lease was not renewed"
    locks.release_many(taken.values())
    assert locks.try_acquire(locks.lock(f"{name}-1", 10))


def test_many_locks_released_at_once_are_free_again_but_not_another_owners(backend, name):
    wanted = {i: locks.lock(f"{name}-{i}", 0.2 if i == 0 else 10) for i in range(3)}
    taken = locks.try_acquire_many(wanted)
    time.sleep(0.3)  # the first one expires, and someone else takes it
    other = locks.lock(f"{name}-0", 10)
    assert locks.try_acquire(other)
    locks.release_many([*taken.values(), None])
    assert other.owned()
    assert locks.try_acquire(locks.lock(f"{name}-1", 10))
    assert locks.try_acquire(locks.lock(f"{name}-2", 10))


def test_without_its_store_work_goes_on_unlocked_and_beat_stands_by(settings, name, caplog):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")  # nothing listens there
    lock = locks.lock(name, 10)
    assert locks.try_acquire(lock)  # running without a lock beats not answering
    locks.release(lock)  # and letting go of it raises nothing
    assert "running without it" in caplog.text
    with pytest.raises(redis.RedisError):
        locks.hold(lock)  # a leader cannot be sure: the caller stands by


def test_without_its_store_many_locks_go_on_unlocked(settings, name, caplog):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")  # nothing listens there
    wanted = {i: locks.lock(f"{name}-{i}", 10) for i in range(3)}
    assert sorted(locks.try_acquire_many(wanted)) == [0, 1, 2]
    locks.release_many(wanted.values())  # raises nothing
    assert "running without them" in caplog.text
