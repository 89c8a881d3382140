"""
The JSON document a Periskop client serves, parsed and validated.

`parse(document)` takes the decoded JSON of one scrape (or one push) and returns a
`Payload` of plain frozen dataclasses, or raises `PayloadError` whose message names
the field that is wrong: `aggregated_errors[3].total_count: expected a
non-negative integer, got 'x'`. Nothing here touches Django or the database.

It accepts what the real clients send (snake_case keys everywhere):

* Python `periskop-client` 0.2.0: timestamps `2024-01-02T03:04:05.678Z`, `cause`
  always null (the chain is only in the traceback text), `request_headers` and
  `request_body` may be null, `target_uuid` present; `created_at` is stamped just
  after the first occurrence, so it can be a millisecond later than it.
* Go `periskop-go`: RFC 3339 with up to nine fractional digits; older versions
  send no `created_at` and no `target_uuid`, and a Go program that re-serialises a
  payload without `created_at` (Periskop's server does) writes Go's zero time
  `0001-01-01T00:00:00Z`; `severity` may be empty; `cause` is a recursive object;
  nil slices are serialised as `null`.
* Scala: `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` (an offset such as `+02:00`), `message`
  null when a Throwable has none, and an `error` of only `{"message": ...}` for
  reported messages (no class, no stack trace).
* Ruby: timestamps without fractional seconds, no `created_at`, `cause` written as
  a plain string (Ruby's default `to_json` of an exception is its message), and
  `http_context` written as a string (an object without `to_json`): taken as none.
* Periskop's own API output: timestamps as integer epoch seconds.

Defaults: an empty or absent severity is `error` (for an occurrence, its
aggregate's severity); `created_at` absent, null, empty, 0, or at or before
1970-01-01 (Go's zero time is year 1) means "unknown" and becomes None; a
timestamp without a zone is UTC. Unknown keys are ignored, because clients evolve.

What is refused, as the wrong shape, is what cannot be counted exactly: a document
that is not an object, `aggregated_errors` missing or not a list, an aggregate
without a non-empty `aggregation_key`, the same key twice, a `total_count` that is
not a non-negative integer, an occurrence that is not an object or has no valid
`timestamp`, and values of the wrong type.

An occurrence without `uuid` gets one derived from its content (uuid5 of its key,
timestamp, severity, error and HTTP context): the aggregation de-duplicates samples
by uuid across scrapes, so a random uuid would store the same sample again at every
scrape, and skipping the entry would lose the only sample some clients send. The
price: two identical errors in the same millisecond become one sample (their count
is unaffected, it comes from `total_count`).

Sizes are capped, so that one bad client cannot fill the database through the
samples (counts are never capped):

* messages, request bodies and string causes: 64 KiB of UTF-8, then a marker;
* stack traces: 500 lines (the first 250 and the last 249 around a marker line,
  since the top and the bottom both matter: Python prints the innermost frame
  last, Go and Java first), each line 4 KiB;
* causes: 16 levels deep; class names 1 KiB; request URLs 8 KiB; 100 request
  headers of 8 KiB each; severities 20 characters;
* occurrences: the 100 newest per aggregate (the clients keep 10);
* uuids over 64 characters are replaced by a uuid5 of themselves, so they still
  de-duplicate.

Every string is sanitised once, here, on its way in: a lone surrogate (`"\\ud800"`,
valid JSON but not text: no database or encoder takes it) and NUL (which
PostgreSQL refuses in text and JSON columns) become U+FFFD, and each replacement
is counted in the metric `periskop_payload_sanitised_characters_total{kind}`. So
no value of a payload can break the storing of its instance, or of any other.

What is bounded besides sizes: the nesting depth (`decode` refuses what Python's
JSON decoder cannot nest, and `parse` anything that would recurse too deeply
later), and the counts: each one, and their sum over a payload, at most
2^63-1 (they are stored in 64-bit columns; one instance that saw more errors than
that is lying).

`decode(body)` is the boundary for raw bytes (a push): decoding, JSON and `parse`,
every failure a `PayloadError` with a message that can be answered to a client.
"""

import json
import math
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

DEFAULT_SEVERITY = "error"
MAX_MESSAGE_BYTES = 64 * 1024
MAX_STACKTRACE_LINES = 500
MAX_LINE_BYTES = 4 * 1024
MAX_CAUSE_DEPTH = 16
MAX_CLASS_BYTES = 1024
MAX_URL_BYTES = 8 * 1024
MAX_HEADERS = 100
MAX_HEADER_BYTES = 8 * 1024
MAX_SEVERITY_LENGTH = 20
MAX_OCCURRENCES_PER_KEY = 100
MAX_UUID_LENGTH = 64
# Larger counts do not fit the 64-bit integer columns they are stored in.
MAX_COUNT = 2**63 - 1

SANITISED = Counter(
    "periskop_payload_sanitised_characters",
    "Characters of scraped or pushed payloads replaced by U+FFFD: lone surrogates and NUL.",
    ["kind"],
)
# Unsafe in a string: NUL, and the surrogates, which only exist in Python's str
# when JSON escaped them alone ("\ud800"): a real character outside the BMP is
# decoded as one code point.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"

TRUNCATED = "… [truncated by telescope: {size} bytes in all]"
LINES_OMITTED = "… [{count} lines omitted by telescope] …"

# Fixed, so that derived uuids are the same in every process and release.
_UUID_NAMESPACE = uuid.UUID("0b7c4a8e-4f0d-5b1e-9a57-7e1e5c0f2b61")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, datetime's limit
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


@dataclass(frozen=True)
class ErrorInfo:
    error_class: str
    message: str
    stacktrace: list[str]
    cause: "ErrorInfo | None"


@dataclass(frozen=True)
class HttpContext:
    request_method: str
    request_url: str
    request_headers: dict[str, str]
    request_body: str


@dataclass(frozen=True)
class OccurrenceData:
    uuid: str
    timestamp: datetime  # aware, UTC
    severity: str
    error: ErrorInfo
    http_context: HttpContext | None


@dataclass(frozen=True)
class AggregateData:
    aggregation_key: str
    total_count: int
    severity: str
    created_at: datetime | None  # None: the client did not say
    latest_errors: list[OccurrenceData]


@dataclass(frozen=True)
class Payload:
    aggregated_errors: list[AggregateData]
    target_uuid: str | None


class PayloadError(ValueError):
    """The document is not a Periskop payload; the message names the field."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def decode(body: bytes) -> Payload:
    """The payload in the raw `body` (UTF-8 JSON); `PayloadError` if it is not one,
    whose message says why in words a client can act on."""
    if not body.strip():
        raise PayloadError("payload", "empty body")
    try:
        document = json.loads(body.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise PayloadError("payload", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise PayloadError("payload", "nested too deeply") from None
    except ValueError as exc:
        raise PayloadError("payload", f"invalid JSON: {exc}") from None
    return parse(document)


def parse(document: Any) -> Payload:
    """The payload in `document` (decoded JSON); `PayloadError` if it is not one."""
    try:
        return _payload(document)
    except RecursionError:  # a value nested deeper than Python recurses (a body)
        raise PayloadError("payload", "nested too deeply") from None


def _payload(document: Any) -> Payload:
    root = _object(document, "payload")
    aggregates = _list(_required(root, "aggregated_errors", "payload"), "aggregated_errors")
    parsed = [_aggregate(item, f"aggregated_errors[{i}]") for i, item in enumerate(aggregates)]
    _refuse_duplicate_keys(parsed)
    _refuse_overflowing_sum(parsed)
    return Payload(parsed, _target_uuid(root.get("target_uuid")))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def sanitised(text: str) -> str:
    """`text` with each lone surrogate and NUL replaced by U+FFFD, counted."""
    if _plain(text):
        return text
    if _UNSAFE.search(text) is None:
        return text
    nul = text.count("\x00")
    clean, replaced = _UNSAFE.subn(REPLACEMENT, text)
    if nul:
        SANITISED.labels("nul").inc(nul)
    if replaced - nul:
        SANITISED.labels("surrogate").inc(replaced - nul)
    return clean


def _plain(text: str) -> bool:
    """Needs no sanitising: ASCII without NUL (no surrogate is ASCII). The common
    case, tested on many strings joined at once where a payload has many (a
    stack trace's lines, the headers), since a call per string costs more than
    the test."""
    return text.isascii() and "\x00" not in text


# --- aggregates -------------------------------------------------------------------


def _aggregate(value: Any, path: str) -> AggregateData:
    item = _object(value, path)
    key = _aggregation_key(_required(item, "aggregation_key", path), f"{path}.aggregation_key")
    total_count = _count(_required(item, "total_count", path), f"{path}.total_count")
    severity = _severity(item.get("severity"), f"{path}.severity", DEFAULT_SEVERITY)
    created_at = _created_at(item.get("created_at"), f"{path}.created_at")
    entries = _list(item.get("latest_errors"), f"{path}.latest_errors")
    occurrences = [
        _occurrence(entry, f"{path}.latest_errors[{i}]", key, severity)
        for i, entry in enumerate(entries)
    ]
    return AggregateData(key, total_count, severity, created_at, _newest(occurrences, MAX_OCCURRENCES_PER_KEY))


def _aggregation_key(value: Any, path: str) -> str:
    # Not stripped: the key is an identity, kept exactly as the client wrote it.
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(path, f"expected a non-empty string, got {_show(value)}")
    return sanitised(value)


def _count(value: Any, path: str) -> int:
    # bool is an int in Python, but `true` is not a count. 3.0 is (some JSON
    # encoders write every number as a float).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise PayloadError(path, f"expected a non-negative integer, got {_show(value)}")
    return value


def _refuse_duplicate_keys(aggregates: list[AggregateData]) -> None:
    # Two counts for one key from one instance: there is no way to tell which one
    # is right, and adding both would count the same errors twice.
    first_index: dict[str, int] = {}
    for i, aggregate in enumerate(aggregates):
        previous = first_index.setdefault(aggregate.aggregation_key, i)
        if previous != i:
            path = f"aggregated_errors[{i}].aggregation_key"
            raise PayloadError(path, f"duplicate of aggregated_errors[{previous}]")


def _refuse_overflowing_sum(aggregates: list[AggregateData]) -> None:
    # Each count fits a 64-bit column, but one instance cannot have seen more
    # errors than that in all: such a payload is garbage, and storing it would
    # overflow the totals it is added to.
    if sum(a.total_count for a in aggregates) > MAX_COUNT:
        raise PayloadError("aggregated_errors", "the total_counts add up to more than 2^63-1")


def _newest(occurrences: list[OccurrenceData], cap: int) -> list[OccurrenceData]:
    """At most `cap` occurrences, the newest, in the order the client sent them."""
    if len(occurrences) <= cap:
        return occurrences
    by_age = sorted(range(len(occurrences)), key=lambda i: occurrences[i].timestamp)
    kept = set(by_age[-cap:])
    return [o for i, o in enumerate(occurrences) if i in kept]


def _target_uuid(value: Any) -> str | None:
    # Old clients send none; Python's sends a uuid1 per process. Anything else
    # (a number, an object) is no identity we can rely on: the URL is used instead.
    if isinstance(value, str) and value.strip():
        return sanitised(value.strip())
    return None


# --- occurrences ------------------------------------------------------------------


def _occurrence(value: Any, path: str, key: str, default_severity: str) -> OccurrenceData:
    item = _object(value, path)
    timestamp = _timestamp(_required(item, "timestamp", path), f"{path}.timestamp")
    if timestamp is None:
        raise PayloadError(f"{path}.timestamp", "expected a date-time, got an unset one")
    given = _uuid(item.get("uuid"), f"{path}.uuid")
    occurrence = OccurrenceData(
        uuid=given,
        timestamp=timestamp,
        severity=_severity(item.get("severity"), f"{path}.severity", default_severity),
        error=_error(_required(item, "error", path), f"{path}.error", depth=0),
        http_context=_http_context(item.get("http_context"), f"{path}.http_context"),
    )
    return occurrence if given else _with_uuid(occurrence, _derived_uuid(key, occurrence))


def _uuid(value: Any, path: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise PayloadError(path, f"expected a string, got {_show(value)}")
    value = sanitised(value)
    if len(value) > MAX_UUID_LENGTH:
        return str(uuid.uuid5(_UUID_NAMESPACE, value))
    return value


def _derived_uuid(key: str, occurrence: OccurrenceData) -> str:
    """A uuid that is the same for the same sample at every scrape (see above)."""
    content = asdict(occurrence) | {"key": key, "uuid": None}
    canonical = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return str(uuid.uuid5(_UUID_NAMESPACE, canonical))


def _with_uuid(occurrence: OccurrenceData, value: str) -> OccurrenceData:
    return OccurrenceData(
        value, occurrence.timestamp, occurrence.severity, occurrence.error, occurrence.http_context
    )


def _severity(value: Any, path: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise PayloadError(path, f"expected a string, got {_show(value)}")
    # Clients write "error", "warning", "info"; others are kept (clients evolve),
    # lower-cased so that "Error" and "error" are one Prometheus label value.
    return sanitised(value.strip().lower()[:MAX_SEVERITY_LENGTH]) or default


def _error(value: Any, path: str, depth: int) -> ErrorInfo:
    item = _object(value, path)
    return ErrorInfo(
        error_class=_capped(_text(item.get("class"), f"{path}.class"), MAX_CLASS_BYTES),
        message=_capped(_text(item.get("message"), f"{path}.message"), MAX_MESSAGE_BYTES),
        stacktrace=_stacktrace(item.get("stacktrace"), f"{path}.stacktrace"),
        cause=_cause(item.get("cause"), f"{path}.cause", depth + 1),
    )


def _cause(value: Any, path: str, depth: int) -> ErrorInfo | None:
    if value is None or depth > MAX_CAUSE_DEPTH:
        return None
    if isinstance(value, str):  # Ruby's client: the cause's message only
        return ErrorInfo("", _capped(sanitised(value), MAX_MESSAGE_BYTES), [], None)
    return _error(value, path, depth)


def _stacktrace(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # a whole trace in one string
        value = value.splitlines()
    lines = _list(value, path)
    if _all_plain_strings(lines, MAX_LINE_BYTES):
        return _fewer_lines(list(lines))
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            raise PayloadError(f"{path}[{i}]", f"expected a string, got {_show(line)}")
    return _fewer_lines([_capped(sanitised(line), MAX_LINE_BYTES) for line in lines])


def _all_plain_strings(values, max_bytes: int) -> bool:
    """Every one of `values` a string that needs neither sanitising nor capping."""
    return (
        all(type(v) is str for v in values)
        and _plain("".join(values))
        and max(map(len, values), default=0) <= max_bytes  # ASCII: a byte a character
    )


def _fewer_lines(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_STACKTRACE_LINES:
        return lines
    head = MAX_STACKTRACE_LINES // 2
    tail = MAX_STACKTRACE_LINES - head - 1
    omitted = len(lines) - head - tail
    return [*lines[:head], LINES_OMITTED.format(count=omitted), *lines[-tail:]]


def _http_context(value: Any, path: str) -> HttpContext | None:
    # A string is the Ruby client's `to_s` of its context object: nothing usable.
    if value is None or isinstance(value, str):
        return None
    item = _object(value, path)
    return HttpContext(
        request_method=_capped(_text(item.get("request_method"), f"{path}.request_method"), 64),
        request_url=_capped(_text(item.get("request_url"), f"{path}.request_url"), MAX_URL_BYTES),
        request_headers=_headers(item.get("request_headers"), f"{path}.request_headers"),
        request_body=_capped(_body(item.get("request_body"), f"{path}.request_body"), MAX_MESSAGE_BYTES),
    )


def _headers(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    headers = _object(value, path)
    if len(headers) <= MAX_HEADERS and _all_plain_strings([*headers, *headers.values()], MAX_HEADER_BYTES):
        return dict(headers)
    named = ((_capped(sanitised(str(name)), MAX_HEADER_BYTES), v) for name, v in list(headers.items())[:MAX_HEADERS])
    return {
        name: _capped(_header_value(v, f"{path}.{name}"), MAX_HEADER_BYTES)
        for name, v in named
    }


def _header_value(value: Any, path: str) -> str:
    # Rack's environment and some frameworks keep repeated headers as lists.
    if isinstance(value, list):
        return ", ".join(_text(v, path) for v in value)
    return _text(value, path)


def _body(value: Any, path: str) -> str:
    # A client may put the decoded JSON body there rather than its text.
    if isinstance(value, (dict, list)):
        return sanitised(json.dumps(value, ensure_ascii=False))
    return _text(value, path)


# --- time -------------------------------------------------------------------------


def _created_at(value: Any, path: str) -> datetime | None:
    if value is None or value == "":
        return None
    return _timestamp(value, path)


def _timestamp(value: Any, path: str) -> datetime | None:
    """An aware UTC datetime; None for the "unset" values (epoch 0, Go's year 1)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = _from_epoch(value, path)
    elif isinstance(value, str):
        moment = _from_rfc3339(value, path)
    else:
        raise PayloadError(path, f"expected an RFC 3339 date-time or epoch seconds, got {_show(value)}")
    # No error happened before 1970: such values are zero values of some language.
    return None if moment <= _EPOCH else moment


def _from_epoch(value: int | float, path: str) -> datetime:
    # Compared before any float conversion: a huge integer would overflow it.
    if (isinstance(value, float) and math.isnan(value)) or not 0 <= value <= _MAX_EPOCH_SECONDS:
        raise PayloadError(path, f"expected epoch seconds between 0 and year 9999, got {_show(value)}")
    return _EPOCH + timedelta(seconds=value)


def _iso_shaped(value: str) -> bool:
    """A date, a time and a zone (`Z` or `±HH:MM`) where `fromisoformat` and RFC 3339
    agree: it also reads `+02`, `+02:00:30` and an empty fraction, which are not
    RFC 3339, and which the expression refuses."""
    return len(value) >= 20 and value[10] in "Tt " and value[13] == ":" == value[16] and (
        (value[-1] in "Zz" and value[-2].isdigit())
        or (value[-6] in "+-" and value[-3] == ":" and value[-7].isdigit())
    )


def _from_rfc3339(value: str, path: str) -> datetime:
    # What clients write (`2026-12-01T10:00:00.123456789Z`, `...+02:00`) is what
    # `fromisoformat` reads, four times faster than the expression below, which
    # reads the rest (a leap second, a space before the zone) and says what is wrong.
    if _iso_shaped(value):
        try:
            moment = datetime.fromisoformat(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise PayloadError(path, f"expected an RFC 3339 date-time, got {_show(value)}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, _zulu, sign, offset_hours, offset_minutes = match.groups()[6:]
    # Go writes nanoseconds; Python keeps microseconds. A leap second ":60" is
    # kept as ":59", which is what most systems do.
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=UTC)
    except ValueError as exc:
        raise PayloadError(path, f"expected an RFC 3339 date-time, got {_show(value)} ({exc})") from None
    if not sign:
        return moment
    # The local time minus its offset is UTC.
    offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    try:
        return moment - offset if sign == "+" else moment + offset
    except OverflowError:
        if year < 1970:  # Go's zero time in a zone east of UTC: unset
            return _EPOCH
        raise PayloadError(path, f"expected a date-time before year 10000, got {_show(value)}") from None


# --- generic shapes ---------------------------------------------------------------


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(path, f"expected an object, got {_show(value)}")
    return value


def _list(value: Any, path: str) -> list:
    # Go serialises a nil slice as null: an empty list.
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(path, f"expected a list, got {_show(value)}")
    return value


def _required(item: dict, name: str, path: str) -> Any:
    if name not in item:
        raise PayloadError(f"{path}.{name}" if path != "payload" else name, "missing")
    return item[name]


def _text(value: Any, path: str) -> str:
    """A string field; null is empty, and numbers are written as text (lenient,
    as no client is known to send them but nothing is ambiguous about them)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return sanitised(value)
    if isinstance(value, (int, float)):  # bool included: true / false
        return json.dumps(value)
    raise PayloadError(path, f"expected a string, got {_show(value)}")


def _capped(text: str, max_bytes: int) -> str:
    """`text` cut to `max_bytes` of UTF-8 (on a character boundary) plus a marker."""
    # Cheap test first: a character is at most 4 bytes in UTF-8.
    if len(text) * 4 <= max_bytes:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[:max_bytes].decode("utf-8", "ignore")
    return kept + TRUNCATED.format(size=len(encoded))


def _show(value: Any) -> str:
    """The offending value, short, for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
