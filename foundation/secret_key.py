"""
The SECRET_KEY of the embedded mode: generated on the first start, kept in a file.

The embedded mode must start with no setting at all, yet Django signs sessions and
password-reset links with `SECRET_KEY`, and a key that changed at every start would
log everyone out. So the first start writes a random key to `DATA_DIR/secret_key`
(mode 0600) and every later start reads it back.

Several processes may start at once on a fresh folder (gunicorn workers, `make run`
steps): each writes its candidate key to a private temporary file and hard-links it
to the final name. The link either appears whole or fails because another process
got there first, in which case that process's key is read and used: no process ever
sees a half-written file, and all of them end up with the same key.

Only `settings.py` calls `load_or_create()`, before logging is configured; the
site's AppConfig logs `created` afterwards (one line, never the key).
"""

import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

FILE_NAME = "secret_key"

# The file this process created, if it did: logged once logging is set up.
created: Path | None = None


def load_or_create(data_dir: Path) -> str:
    """The key kept in `data_dir`, created there (0600) by the first caller."""
    global created
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        try:
            _create(path)
            created = path
        except FileExistsError:
            pass  # another process created it meanwhile: use its key
        except OSError as exc:
            raise ImproperlyConfigured(
                f"SECRET_KEY is not set and no key can be kept in {path} ({exc}): "
                f"set SECRET_KEY, or DATA_DIR to a folder this user can write"
            ) from None
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {path} cannot be read ({exc}): "
            f"set SECRET_KEY, or fix or delete the file"
        ) from None
    if not key:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {path} is empty: delete it to generate a new key, "
            f"or set SECRET_KEY"
        )
    return key


def _create(path: Path) -> None:
    """Write a new key to `path` at once, whole; FileExistsError if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600, whatever the umask.
    descriptor, temporary = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)  # atomic, and never replaces an existing key
    finally:
        os.unlink(temporary)
