"""
The value to plot from a check's data, by Telescope's path syntax.

A path is a dot-separated walk into the data: `.` is the data itself, `.age_hours`
a key, `.items.0` the first element of a list. The value must be a number.
"""

from typing import Any


def extract(data: Any, path: str | None) -> float | None:
    """The number at `path` in `data`, or None when there is none."""
    if not path:
        return None
    value = data
    for step in (s for s in path.split(".") if s):
        value = _step(value, step)
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(float(value), 2)


def _step(value: Any, step: str) -> Any:
    if isinstance(value, dict):
        return value.get(step)
    if isinstance(value, list) and step.lstrip("-").isdigit():
        index = int(step)
        return value[index] if -len(value) <= index < len(value) else None
    return None
