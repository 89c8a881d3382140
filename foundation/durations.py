"""
Durations, written the same way wherever one is read: a check's `schedule`, a
service's `refresh_interval` (config.toml or Periskop's YAML), the
`refresh_interval` of `file_sd_configs` and `dns_sd_configs`.

Accepted:

* seconds, as a number or a numeric string: `300`, `1.5`, `"300"`, `"0.5"`;
* numbers with units, one after the other, as Go's `time.ParseDuration` reads them
  (`1h30m`, `1.5h`, `300ms`, `2m0.5s`), which Periskop's YAML uses, plus the
  days, weeks and years of Prometheus' durations (`1d`, `2w`, `1y` = 365 days), so
  that a value written for either reads the same here. Units: `ns`, `us` (or `µs`),
  `ms`, `s`, `m`, `h`, `d`, `w`, `y`.

Refused: no unit after a number (`1h30`), an unknown unit, a sign, spaces inside,
an empty string, `true`. Each reader decides what is too short for it
(`whole_seconds`).
"""

import math
import re
from typing import Any

UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600,
    "d": 86400, "w": 7 * 86400, "y": 365 * 86400,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Longest units first, so that "ms" is never read as "m" then "s".
_TERM = re.compile(rf"({_NUMBER})({'|'.join(sorted(UNITS, key=len, reverse=True))})")
_DURATION = re.compile(rf"(?:{_TERM.pattern})+")
FORMS = "seconds (300, 1.5) or numbers with units (300ms, 30s, 1m30s, 1.5h, 1d, 2w)"


class DurationError(ValueError):
    pass


def is_duration(value: Any) -> bool:
    try:
        parse(value)
    except DurationError:
        return False
    return True


def parse(value: Any) -> float:
    """The seconds `value` stands for (0 or more); DurationError naming it otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(_NUMBER, text):
            return float(text)
        if _DURATION.fullmatch(text):
            return sum(float(number) * UNITS[unit] for number, unit in _TERM.findall(text))
    raise DurationError(f"{value!r} is not a duration: write {FORMS}")


def whole_seconds(value: Any, minimum: int = 1) -> int:
    """`value` in seconds, for what counts whole seconds (intervals, schedules)."""
    # To the microsecond: "0.1m" is 6.000000000000001 in floating point.
    seconds = round(parse(value), 6)
    if seconds < minimum:
        raise DurationError(f"{value!r} is shorter than the minimum, {minimum} s")
    if not seconds.is_integer():
        raise DurationError(f"{value!r} is not a whole number of seconds ({seconds:g} s)")
    return int(seconds)
