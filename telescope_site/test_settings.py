"""
Settings for the test suite: the normal settings, made fast and self-contained.

The database stays whatever `DATABASE_URL` says (SQLite by default), so the suite
can be run against PostgreSQL or MariaDB too.
"""

import hashlib
import os

# Before the settings are read: without a key they would refuse the distributed mode
# (DATABASE_URL may point the suite at PostgreSQL) or write one into var/.
os.environ.setdefault("SECRET_KEY", "tests-only")

from telescope_site.settings import *  # noqa: E402, F403

SECRET_KEY = "tests-only"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = (  # noqa: F405
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Static files come from the finders in tests; there is no collectstatic output.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared in-memory database, whose table locks fail at
    # once: concurrency tests then see the same locking as the embedded mode.
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    # One file per run, so that runs side by side never share it. Under
    # pytest-xdist each worker is a process of its own, and pytest-django adds the
    # worker's id (`_gw0`) as well.
    _name = f"test-db-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / _name)}  # noqa: F405
else:
    # A server is shared by every checkout on the machine: Django's default test
    # database (`test_<NAME>`) would be created by one checkout's run and dropped
    # under another's. One name per checkout keeps them apart, and a run that was
    # killed leaves one database that the next run of the same checkout replaces.
    # pytest-django adds the xdist worker's id (`_gw0`) to it.
    _checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]  # noqa: F405
    _name = f"test_{DATABASES['default']['NAME']}_{_checkout}"  # noqa: F405
    DATABASES["default"].setdefault("TEST", {})["NAME"] = _name  # noqa: F405

# The tests' own check modules, beside the shipped ones.
CHECK_MODULES = [*CHECK_MODULES, "audits.tests.checkmods."]  # noqa: F405

# A few check processes are enough for the tests.
CHECK_PROCESSES = 4

# Tests never call the real Bugzilla: the bugtracker tests point this at a fake one.
BUGTRACKER_URL = ""
