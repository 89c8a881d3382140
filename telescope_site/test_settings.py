"""
Settings for the test suite: the normal settings, made fast and self-contained.

The database stays whatever `DATABASE_URL` says (SQLite by default), so the suite
can be run against PostgreSQL or MariaDB too.
"""

from .settings import *  # noqa: F403

SECRET_KEY = "tests-only"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = (  # noqa: F405
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Static files come from the finders in tests; there is no collectstatic output.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
