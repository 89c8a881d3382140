"""
What is wrong with a config file: one exception for every reader of it.

Each app's reader (`[checks]`, `[errors]`, Periskop's YAML) and the document
framework that splits the file into sections raise the same `ConfigError`, which
lists every problem found, not only the first, so that a broken file is fixed in
one go. A problem says where it is: the file, the item (`checks.<project>.<name>`,
`errors.services.<name>`) and the field, and is shown as

    config.toml: checks.web.home: schedule: '5x' is not a duration (...)

on one line that any page or terminal can show: a name's control characters and
lone surrogates are written as escapes (`checks.web.a\\x00b`).
"""

import unicodedata
from dataclasses import dataclass, replace

from foundation.names import REFUSED_CATEGORIES


@dataclass(frozen=True)
class Problem:
    source: str  # the file
    item: str  # what it is about: "checks.web.home", "errors.services.api"; "" for the file
    field: str  # "schedule", "params.url", "static_configs[0].targets"; "" for the item
    message: str

    def __str__(self) -> str:
        parts = (self.source, self.item, self.field, self.message)
        return ": ".join(_shown(part) for part in parts if part)


def _shown(text: str) -> str:
    return "".join(
        repr(c)[1:-1] if unicodedata.category(c) in REFUSED_CATEGORIES else c for c in text
    )


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(self.errors))

    @property
    def errors(self) -> list[str]:
        """Every problem as one line of text."""
        return [str(problem) for problem in self.problems]

    @classmethod
    def of_file(cls, source, message: str) -> "ConfigError":
        """A file that cannot be read or parsed at all."""
        return cls([Problem(str(source), "", "", message)])

    def renamed(self, source: str, name: str) -> "ConfigError":
        """The same problems, the file `source` called `name` (an upload kept in a
        temporary file is shown by the name it was uploaded as)."""
        return ConfigError([
            replace(p, source=name if p.source == source else p.source,
                    message=p.message.replace(source, name))
            for p in self.problems
        ])
