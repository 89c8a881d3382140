"""
The one rule for the names people give things: a check's project and name, a
tag, a service.

A name travels in URLs, exported files, log lines and database rows, so what one
of them cannot carry is refused where the name is declared, on the model field
(`validators=[NameValidator()]`, with the field's `max_length`). The admin's forms
run the field's validators; the config readers, which validate a whole file before
anything is written, ask the same field through `field_problems()`. PostgreSQL
refuses NUL in text and would otherwise fail the write with a raw `DataError`.

A name is refused when it holds a control character (NUL, newline, tab...) or a
lone surrogate (not UTF-8), holds `/`, or is `.` or `..`; a field may forbid more
characters (`forbidden`) and reserve some names (`reserved`).
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Cc: control characters, NUL included; Cs: halves of a surrogate pair, which no
# UTF-8 text (the database's, a URL's) can hold.
REFUSED_CATEGORIES = ("Cc", "Cs")
ALWAYS_FORBIDDEN = "/"  # splits URL paths and file paths
NOT_NAMES = (".", "..")  # mean "here" and "up" in paths


@deconstructible
class NameValidator:
    def __init__(self, forbidden: str = "", reserved: tuple = ()):
        self.forbidden = forbidden
        self.reserved = tuple(reserved)

    def __call__(self, value: str) -> None:
        problem = self.problem(value)
        if problem:
            raise ValidationError(problem, code="invalid_name")

    def problem(self, value: str) -> str | None:
        if value in NOT_NAMES:
            return f"{value!r} is not a name"
        if value in self.reserved:
            return f"{value!r} is reserved"
        if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in value):
            return f"{value!r} holds a control character (NUL, newline, tab...)"
        bad = "".join(sorted(set(ALWAYS_FORBIDDEN + self.forbidden) & set(value)))
        return f"{value!r} cannot hold {bad!r}" if bad else None

    def __eq__(self, other):
        return isinstance(other, NameValidator) and (self.forbidden, self.reserved) == (
            other.forbidden, other.reserved
        )


def field_problems(model, field_name: str, value) -> list[str]:
    """What `model`'s field refuses in `value`: its validators, length and blank."""
    try:
        model._meta.get_field(field_name).clean(value, None)
    except ValidationError as exc:
        return exc.messages
    return []
