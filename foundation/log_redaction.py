"""
No secret in a log line, an error page or a Sentry event, whoever wrote it.

`redact_text()` takes out of any text what this process knows to be secret:

* every value resolved from a `${VAR}` placeholder so far (the registry of
  `foundation.placeholders`), shown as its placeholder;
* the secrets of the settings (`SECRET_KEY`, `REFRESH_SECRET`, the key of
  `SENTRY_DSN`, `WEBHOOK_URLS`, the passwords of the database, Redis, the broker and
  the mail server (`EMAIL_URL`),
  the API tokens), shown as `[NAME]`;
* whatever looks like a credential in a URL: `user:pass@`, and the values of
  `?refresh=` and of token-like query parameters (`checks.http.wording.scrub`).

`RedactSecrets` is the logging filter that applies it to every record: message,
arguments, extra fields (Django's `django.request` lines carry the request, whose
repr has the query string) and the formatted exception and stack. The settings
install it on every handler, so records of any logger (urllib3, celery,
django.request) are covered, in every process that uses those settings: web,
Celery workers, `manage.py audit` and the check processes they fork.
`before_send` does the same to Sentry events.
"""

import functools
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings

from checks.http.wording import scrub
from foundation import placeholders
from foundation.log_format import RECORD_ATTRIBUTES as _RECORD_ATTRIBUTES

# Settings whose whole value is a secret.
SECRET_SETTINGS = (
    "SECRET_KEY", "REFRESH_SECRET", "GITHUB_TOKEN", "BUGTRACKER_API_KEY", "EMAIL_HOST_PASSWORD",
)
# Settings holding URLs whose credentials are secrets.
URL_SETTINGS = ("SENTRY_DSN", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")

# Telescope's refresh secret, even a wrong one: a near guess is worth hiding too.
_REFRESH_VALUE = re.compile(r"([?&]refresh=)[^&#\s'\"]+", re.I)
_FORMATTER = logging.Formatter()


def redact_text(text: str, secrets: dict[str, str] | None = None) -> str:
    """`text` without any secret this process knows of (see the module docstring);
    `secrets`: `known_secrets()`, when the caller redacts many texts at once."""
    secrets = known_secrets() if secrets is None else secrets
    if secrets:
        text = _pattern(tuple(secrets)).sub(lambda match: secrets[match.group(0)], text)
    return _REFRESH_VALUE.sub(r"\1***", scrub(text))


def redact_value(value, secrets: dict[str, str] | None = None):
    """`value` with `redact_text` applied to every string in it; another object
    is replaced by its redacted repr, if that repr shows a secret."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__: whoever formats it says so
        return value
    clean = redact_text(shown, secrets)
    return value if clean == shown else clean


def known_secrets() -> dict[str, str]:
    """Secret value -> what to show instead: the settings' secrets, then every
    value resolved from a placeholder in this process."""
    return {**_settings_secrets(_secret_settings()), **placeholders.resolved_values()}


def _secret_settings() -> tuple:
    names = (*SECRET_SETTINGS, *URL_SETTINGS)
    values = tuple((name, str(getattr(settings, name, "") or "")) for name in names)
    database = settings.DATABASES.get("default", {}).get("PASSWORD") or ""
    return (*values, ("DATABASE_URL", database), ("WEBHOOK_URLS", tuple(settings.WEBHOOK_URLS)))


@functools.lru_cache(maxsize=8)
def _settings_secrets(named_values: tuple) -> dict[str, str]:
    found = {}
    for name, value in named_values:
        if name in URL_SETTINGS:
            found.update(dict.fromkeys(_url_credentials(value), f"[{name}]"))
        elif name == "WEBHOOK_URLS":
            found.update(dict.fromkeys(_webhook_secrets(value), f"[{name}]"))
        else:
            found[value] = f"[{name}]"
    return {v: shown for v, shown in found.items() if len(v) >= placeholders.MIN_REGISTERED_LENGTH}


def _url_credentials(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        return [parts.username or "", parts.password or ""]
    except ValueError:  # not a URL Django or Celery would use either: the whole of it
        return [url]


def _webhook_secrets(urls: tuple) -> list[str]:
    # A webhook's URL is its secret, and a log line may show its path alone.
    found = []
    for url in urls:
        try:
            parts = urlsplit(url)
            found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        except ValueError:
            pass  # the whole URL is enough then
        found += [url, *_url_credentials(url)]
    return [value for value in found if value not in ("", "/")]


@functools.lru_cache(maxsize=8)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern:
    # Longest first, so that a secret that contains another is replaced whole.
    return re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))


class RedactSecrets(logging.Filter):
    """Takes every known secret out of each record it sees; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _redact_record(record)
        except Exception as exc:  # a filter that raises fails the caller's log call
            left = _withheld(record, exc)
            vars(record).clear()  # extra fields included: any may hold the secret
            vars(record).update(left)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    secrets = known_secrets()  # once a record: it reads the settings (on every request)
    _redact_message(record, secrets)
    _redact_exception(record, secrets)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info, secrets)
    for name, value in list(vars(record).items()):
        if name not in _RECORD_ATTRIBUTES:
            setattr(record, name, redact_value(value, secrets))


def _withheld(record: logging.LogRecord, exc: Exception) -> dict:
    """What is left of a record that could not be redacted: where it came from."""
    message = f"log record withheld: could not redact it ({type(exc).__name__})"
    kept = {name: value for name, value in vars(record).items() if name in _RECORD_ATTRIBUTES}
    return {**kept, "msg": message, "args": (), "exc_info": None, "exc_text": None, "stack_info": None}


def _redact_message(record: logging.LogRecord, secrets: dict[str, str]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # logging would print the raw message and arguments
        message = f"{record.msg!r} % {record.args!r}"
    clean = redact_text(message, secrets)
    if clean != message:
        record.msg, record.args = clean, ()


def _redact_exception(record: logging.LogRecord, secrets: dict[str, str]) -> None:
    if record.exc_info and record.exc_info[0] is not None:
        text = _FORMATTER.formatException(record.exc_info)
        clean = redact_text(text, secrets)
        if clean != text:
            # The exception itself cannot be redacted: formatters get its text,
            # under the names mozlog gives them (the plain formatter uses exc_text).
            record.error = redact_text(repr(record.exc_info[1]), secrets)
            record.traceback = clean
            record.exc_info, record.exc_text = None, clean
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text, secrets)


def before_send(event: dict, hint: dict) -> dict:
    """Sentry's hook: the event as it will be sent, without any known secret."""
    return redact_value(event)
