"""
`LOG_FORMAT=text`: one line per record, for people, with the record's fields.

The service logs most of what it knows as fields, not in the message: the request
summary (`request.summary`: code, t, path, ...) and each check's result
(`check.result`: project, check, success, data, ...) have an empty message. A plain
`%(message)s` format printed them as `INFO request.summary ` and nothing more; this
formatter writes the fields after the message, as `key=value` (logfmt):

    2026-12-02 10:00:00,123 INFO check.result project=web check=home success=false data="{\"status\": 503}"

A value is written as it is when it is a plain word; text with spaces, quotes or
`=` is quoted as a JSON string, and anything else (numbers, lists, tables, None)
is JSON. The redaction filter (`foundation.log_redaction`) has already taken the
secrets out of the fields when the line is formatted.
"""

import json
import logging
import re

# What a LogRecord holds by itself; anything else is a field given with `extra=`.
RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None))
) | {"message", "asctime"}
PLAIN = re.compile(r"^[^\s\"=\\]+$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self, fmt: str = TEXT_FORMAT, *args, **kwargs):
        super().__init__(fmt, *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value_text(value)}" for key, value in fields_of(record))
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # a traceback stays after the fields
        return f"{head.rstrip()} {fields}{newline}{rest}"


def fields_of(record: logging.LogRecord) -> list[tuple[str, object]]:
    """The record's extra fields, in the order they were given."""
    return [
        (key, value) for key, value in vars(record).items()
        if key not in RECORD_ATTRIBUTES and not key.startswith("_")
    ]


def value_text(value) -> str:
    if isinstance(value, str):
        return value if PLAIN.match(value) else json.dumps(value, ensure_ascii=False)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # an object (django.request's request): its text
        return json.dumps(str(value), ensure_ascii=False)


class NoAccessLines(logging.Filter):
    """
    Drops the development server's access lines (`manage.py runserver`'s
    `django.server` logger: `"GET /checks/web/down HTTP/1.1" 503 ...`, an ERROR
    for every 5xx): each request has its `request.summary` line already, and a
    failing check's 503 is no error. Its other lines (a client speaking HTTPS to
    it, say) stay.
    """

    ACCESS_LINE = '"%s" %s %s'  # the format Django's WSGIRequestHandler logs with

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != self.ACCESS_LINE
