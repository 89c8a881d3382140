"""
The embedded mode's generated SECRET_KEY: made once, private, shared by every
process that starts at the same time, and never half-read.
"""

import stat
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from foundation import secret_key


@pytest.fixture(autouse=True)
def _forget_created(monkeypatch):
    """`created` belongs to the process; each test starts as a fresh one."""
    monkeypatch.setattr(secret_key, "created", None)


def test_first_call_writes_a_long_random_key_readable_by_its_owner_only(tmp_path):
    data_dir = tmp_path / "var"  # not there yet: made on demand
    key = secret_key.load_or_create(data_dir)

    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert len(key) >= 50 and len(set(key)) >= 5  # what Django's check W009 wants
    assert secret_key.created == path
    assert list(data_dir.iterdir()) == [path]  # no temporary file left behind


def test_later_calls_reuse_the_key_without_touching_the_file(tmp_path):
    first = secret_key.load_or_create(tmp_path)
    secret_key.created = None  # a new process
    modified = (tmp_path / "secret_key").stat().st_mtime_ns

    assert secret_key.load_or_create(tmp_path) == first
    assert secret_key.created is None  # nothing to log: this start made nothing
    assert (tmp_path / "secret_key").stat().st_mtime_ns == modified


def test_simultaneous_first_starts_all_end_up_with_the_same_key(tmp_path):
    starters = 16
    barrier = threading.Barrier(starters)
    keys, errors = [], []

    def start():
        barrier.wait()
        try:
            keys.append(secret_key.load_or_create(tmp_path))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(keys) == starters and len(set(keys)) == 1
    assert keys[0] == (tmp_path / "secret_key").read_text().strip()
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_an_empty_key_file_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match=r"secret_key is empty: delete it .* set SECRET_KEY"):
        secret_key.load_or_create(tmp_path)


def test_a_folder_that_cannot_be_made_names_secret_key_and_data_dir(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY is not set .*set SECRET_KEY, or DATA_DIR"):
        secret_key.load_or_create(tmp_path / "a-file" / "var")
