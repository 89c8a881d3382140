"""
What a check returns, made fit to be cached, stored, logged and served as JSON.

A check module may return anything: NaN or Infinity (a target's JSON held them),
tuples as keys, objects JSON has no type for, data that refers to itself, or
megabytes. None of it may break the answer, the history or the alert. So the data
goes through `make_safe()` once, in the process that ran the check:

* NaN, Infinity and -Infinity become `null` (JSON has no such numbers);
* keys that are not strings become strings (`(1, 2)` -> `"(1, 2)"`);
* objects JSON cannot carry become their `str()` (or their type's name when even
  that fails); tuples and sets become lists;
* a container met again inside itself becomes the string `"<cycle>"`;
* data whose JSON is over `limit` bytes is replaced by its first bytes, as a
  string, with a marker saying how large it was.
"""

import json
import math
from typing import Any

CYCLE = "<cycle>"
MAX_DEPTH = 100


def make_safe(data: Any, limit: int) -> Any:
    """`data` as JSON can carry it, at most about `limit` bytes of JSON."""
    safe = _safe(data, set(), 0)
    text = json.dumps(safe, allow_nan=False)
    if len(text.encode()) <= limit:
        return safe
    kept = text.encode()[:limit].decode(errors="ignore")
    return f"{kept}… [truncated: {len(text.encode())} bytes, over the {limit}-byte limit]"


def _safe(value: Any, seen: set, depth: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return "<too deep>"
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if id(value) in seen:
            return CYCLE
        seen = seen | {id(value)}
        if isinstance(value, dict):
            return {_key(k): _safe(v, seen, depth + 1) for k, v in value.items()}
        return [_safe(item, seen, depth + 1) for item in value]
    return as_text(value)


def _key(key: Any) -> str:
    return key if isinstance(key, str) else as_text(key)


def as_text(value: Any) -> str:
    """`str(value)`, even for objects whose `__str__` raises."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
