"""
Relabelling of discovered targets, as Prometheus does it (`relabel_configs`).

A service's `relabel_configs` is a list of rules applied in order to the labels of
every discovered target, before anything is scraped. Besides the labels given in
`static_configs` / file_sd files, a target has `__address__` (the `host:port` that
will be scraped) and the `__meta_*` labels of its discovery mechanism. After the
last rule, `__address__` is the address scraped, labels starting with `__` are
discarded, and the other labels are kept on the target. A label that is missing
is the same as a label whose value is empty: a rule that sets an empty value
removes the label.

    [[errors.services.api.relabel_configs]]     # only the instances of one zone
    source_labels = ["zone"]
    regex = "eu-.*"
    action = "keep"

    [[errors.services.api.relabel_configs]]     # Periskop's port, not the app's
    source_labels = ["__address__"]
    regex = "(.+):\\d+"
    replacement = "${1}:7777"
    target_label = "__address__"

Fields of a rule, with Prometheus' defaults:

| field | default | meaning |
|---|---|---|
| `action` | `replace` | what the rule does, see below (case-insensitive) |
| `source_labels` | `[]` | labels whose values, joined by `separator`, are matched by `regex` |
| `separator` | `;` | |
| `regex` | `(.*)` | must match the whole value (anchored at both ends, as in Prometheus) |
| `target_label` | | the label written by `replace`, `hashmod`, `lowercase`, `uppercase` |
| `replacement` | `$1` | `$1` / `${1}` / `$name` / `${name}` are groups of `regex`, `$$` is `$` |
| `modulus` | | for `hashmod` |

Actions:

| action | effect |
|---|---|
| `replace` | when `regex` matches the joined value, `target_label` is set to `replacement` (groups expanded; `target_label` may use groups too) |
| `keep` | the target is dropped unless `regex` matches the joined value |
| `drop` | the target is dropped when `regex` matches the joined value |
| `labelmap` | every label whose *name* matches `regex` is copied to the name given by `replacement`, e.g. `regex = "__meta_dns_(.+)"` |
| `labeldrop` / `labelkeep` | labels whose names match (`labeldrop`) or do not match (`labelkeep`) `regex` are removed |
| `hashmod` | `target_label` is set to the MD5 of the joined value modulo `modulus` (to shard targets) |
| `lowercase` / `uppercase` | `target_label` is set to the joined value in lower / upper case |
| `keepequal` / `dropequal` | the target is kept / dropped when the joined value equals `target_label`'s value |

Regular expressions are RE2's, the engine and syntax of Prometheus (Go's regexp):
`[[:alpha:]]`, `\\pL`, `\\z`, `\\Q...\\E`, `(?U)` work, back-references and
look-arounds do not, and `a{,3}` is the literal text. Each is anchored as Prometheus
anchors it, `^(?s:<regex>)$`: it matches the whole value, and `.` matches a newline.
"""

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import re2

Labels = dict[str, str]

DEFAULTS: dict[str, Any] = {
    "action": "replace",
    "source_labels": [],
    "separator": ";",
    "regex": "(.*)",
    "target_label": "",
    "replacement": "$1",
}
FIELDS = ("action", "source_labels", "separator", "regex", "target_label", "replacement", "modulus")

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# What Prometheus accepts where a label name may use group references (labelmap's
# replacement, replace's target_label): literal name characters and `$1` / `${name}`.
# Same language as Prometheus' pattern, rewritten without its nested quantifiers, on
# which Python's backtracking engine takes exponential time (RE2 does not backtrack).
_TEMPLATED_NAME = re.compile(r"(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))(?:\w|\$(?:\{\w+\}|\w+))*")
# A group reference after a `$`, as Go's Regexp.Expand reads it: `${name}` or the
# longest run of letters, digits and `_`.
_REFERENCE = re.compile(r"\{(\w+)\}|(\w+)")

# Which fields, besides `action`, each action may use (Prometheus rejects the others
# for the label* and *equal actions; for the rest it only ignores them).
_ONLY_FIELDS = {
    "labeldrop": {"regex"},
    "labelkeep": {"regex"},
    "keepequal": {"source_labels", "target_label"},
    "dropequal": {"source_labels", "target_label"},
}
_NEEDS_TARGET = {"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"}


# --- validation ---------------------------------------------------------------


def validate(rules: list, where: str) -> list[str]:
    """Problems in `rules`, each "where: relabel_configs[i].field: message"; [] if valid."""
    return [f"{where}: {field}: {message}" for field, message in problems(rules)]


def problems(rules: list) -> list[tuple[str, str]]:
    """(field, message) for each problem in `rules`, the field starting at
    `relabel_configs`; [] if valid."""
    if not isinstance(rules, list):
        return [("relabel_configs", "expected a list of rules")]
    return [
        (f"relabel_configs[{index}]{'.' + field if field else ''}", message)
        for index, rule in enumerate(rules)
        for field, message in _rule_problems(rule)
    ]


def _rule_problems(rule: Any) -> list[tuple[str, str]]:
    """(field, message) for each problem of one rule."""
    if not isinstance(rule, dict):
        return [("", "expected a table of rule fields")]
    problems = [
        (key, f"unknown field (known: {', '.join(FIELDS)})") for key in rule if key not in FIELDS
    ]
    problems += _type_problems(rule)
    if problems:
        return problems  # the checks below assume well-typed fields
    return _action_problems(rule)


def _type_problems(rule: dict) -> list[tuple[str, str]]:
    problems = []
    for field in ("action", "separator", "regex", "target_label", "replacement"):
        if field in rule and not isinstance(rule[field], str):
            problems.append((field, "expected a string"))
    labels = rule.get("source_labels", [])
    if not isinstance(labels, list) or not all(isinstance(name, str) for name in labels):
        problems.append(("source_labels", "expected a list of label names"))
    else:
        problems += [
            ("source_labels", f"{name!r} is not a valid label name")
            for name in labels
            if not LABEL_NAME.fullmatch(name)
        ]
    if "regex" in rule and isinstance(rule["regex"], str):
        try:
            _compile(rule["regex"])
        except ValueError as error:
            problems.append(("regex", str(error)))
    modulus = rule.get("modulus", 1)
    if isinstance(modulus, bool) or not isinstance(modulus, int) or modulus < 1:
        problems.append(("modulus", "expected a positive integer"))
    return problems


def _action_problems(rule: dict) -> list[tuple[str, str]]:
    action = rule.get("action", "replace").lower()
    if action not in ACTIONS:
        return [("action", f"unknown action {rule['action']!r} (known: {', '.join(ACTIONS)})")]
    problems = []
    if action in _ONLY_FIELDS:
        allowed = _ONLY_FIELDS[action] | {"action"}
        message = f"not allowed with action {action!r} (it takes only {', '.join(sorted(allowed))})"
        problems += [
            (key, message)
            for key in rule
            if key not in allowed and rule[key] != DEFAULTS.get(key)  # defaults are harmless
        ]
    target = rule.get("target_label", "")
    if action in _NEEDS_TARGET and not target:
        problems.append(("target_label", f"required for action {action!r}"))
    elif action in _NEEDS_TARGET and not _valid_target(target, templated=action == "replace"):
        problems.append(("target_label", f"{target!r} is not a valid label name"))
    if action == "hashmod" and "modulus" not in rule:
        problems.append(("modulus", "required for action 'hashmod'"))
    replacement = rule.get("replacement", DEFAULTS["replacement"])
    if action == "labelmap" and not _TEMPLATED_NAME.fullmatch(replacement):
        message = f"{replacement!r} is not a valid label name for 'labelmap'"
        problems.append(("replacement", message))
    return problems


def _valid_target(name: str, templated: bool) -> bool:
    # Prometheus lets `replace` name its target with group references ($1).
    return bool((_TEMPLATED_NAME if templated else LABEL_NAME).fullmatch(name))


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # an invalid regex is reported to the user, not on stderr


@lru_cache(maxsize=1024)
def _compile(regex: str) -> re2._Regexp:
    """The regex anchored as Prometheus anchors it; ValueError if invalid. Cached:
    rules run once per target."""
    try:
        return re2.compile(f"^(?s:{regex})$", options=_RE2_OPTIONS)
    except re2.error as error:
        message = error.args[0].decode() if isinstance(error.args[0], bytes) else error.args[0]
        raise ValueError(f"invalid regular expression {regex!r}: {message}") from None


# --- relabelling ----------------------------------------------------------------


def relabel(labels: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """
    `labels` after every rule, or None when a rule drops the target.

    Prometheus relabelling: actions replace (default), keep, drop, labelmap, labeldrop,
    labelkeep, hashmod, lowercase, uppercase, keepequal, dropequal; fields
    source_labels, separator (";"), regex (default "(.*)", fully anchored as
    Prometheus does), target_label, replacement (default "$1", with $1 / ${1} /
    named groups expanded like Prometheus), action. `labels` is not modified.
    Rules are expected to be valid (see `validate`); an invalid regex raises ValueError.
    """
    result = {name: value for name, value in labels.items() if value != ""}
    for rule in rules:
        action = rule.get("action", "replace").lower()
        if action not in ACTIONS:
            raise ValueError(f"unknown relabel action {action!r}")
        if not ACTIONS[action](result, rule):
            return None
    return result


def _joined(labels: Labels, rule: dict) -> str:
    """The values of the rule's source labels, joined by its separator."""
    names = rule.get("source_labels", DEFAULTS["source_labels"])
    return rule.get("separator", DEFAULTS["separator"]).join(labels.get(n, "") for n in names)


def _regex(rule: dict) -> re2._Regexp:
    return _compile(rule.get("regex", DEFAULTS["regex"]))


def _set(labels: Labels, name: str, value: str) -> None:
    # As in Prometheus, an empty value is no label at all.
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)


def _replace(labels: Labels, rule: dict) -> bool:
    match = _regex(rule).fullmatch(_joined(labels, rule))
    if match is None:
        return True
    target = expand(match, rule.get("target_label", ""))
    if LABEL_NAME.fullmatch(target):  # a template may expand to nonsense: skip, as Prometheus
        _set(labels, target, expand(match, rule.get("replacement", DEFAULTS["replacement"])))
    return True


def _keep(labels: Labels, rule: dict) -> bool:
    return _regex(rule).fullmatch(_joined(labels, rule)) is not None


def _drop(labels: Labels, rule: dict) -> bool:
    return not _keep(labels, rule)


def _labelmap(labels: Labels, rule: dict) -> bool:
    regex, replacement = _regex(rule), rule.get("replacement", DEFAULTS["replacement"])
    for name, value in list(labels.items()):  # a snapshot: new names are not re-mapped
        match = regex.fullmatch(name)
        if match is not None:
            _set(labels, expand(match, replacement), value)
    return True


def _labeldrop(labels: Labels, rule: dict) -> bool:
    regex = _regex(rule)
    for name in [name for name in labels if regex.fullmatch(name)]:
        del labels[name]
    return True


def _labelkeep(labels: Labels, rule: dict) -> bool:
    regex = _regex(rule)
    for name in [name for name in labels if not regex.fullmatch(name)]:
        del labels[name]
    return True


def _hashmod(labels: Labels, rule: dict) -> bool:
    # Prometheus keeps the low 64 bits of the MD5, big-endian: same shard as Prometheus.
    digest = hashlib.md5(_joined(labels, rule).encode()).digest()
    _set(labels, rule["target_label"], str(int.from_bytes(digest[8:], "big") % rule["modulus"]))
    return True


def _lowercase(labels: Labels, rule: dict) -> bool:
    _set(labels, rule["target_label"], _joined(labels, rule).lower())
    return True


def _uppercase(labels: Labels, rule: dict) -> bool:
    _set(labels, rule["target_label"], _joined(labels, rule).upper())
    return True


def _keepequal(labels: Labels, rule: dict) -> bool:
    return _joined(labels, rule) == labels.get(rule["target_label"], "")


def _dropequal(labels: Labels, rule: dict) -> bool:
    return not _keepequal(labels, rule)


# Each action changes `labels` in place and answers whether the target is kept.
ACTIONS: dict[str, Callable[[Labels, dict], bool]] = {
    "replace": _replace,
    "keep": _keep,
    "drop": _drop,
    "labelmap": _labelmap,
    "labeldrop": _labeldrop,
    "labelkeep": _labelkeep,
    "hashmod": _hashmod,
    "lowercase": _lowercase,
    "uppercase": _uppercase,
    "keepequal": _keepequal,
    "dropequal": _dropequal,
}


def expand(match: re2._Match, template: str) -> str:
    """
    `template` with its group references replaced, exactly as Go's Regexp.Expand.

    `$1`, `${1}`, `$name`, `${name}`; `$$` is a literal `$`. A reference reads the
    longest name it can (`$1x` is the group named `1x`, write `${1}x`); an unknown or
    unmatched group is empty; a `$` followed by no valid reference stays as it is.
    """
    out, position = [], 0
    while (dollar := template.find("$", position)) >= 0:
        out.append(template[position:dollar])
        position = dollar + 1
        if template.startswith("$", position):
            out.append("$")
            position += 1
            continue
        reference = _REFERENCE.match(template, position)
        if reference is None:
            out.append("$")
            continue
        out.append(_group(match, reference.group(1) or reference.group(2)))
        position = reference.end()
    out.append(template[position:])
    return "".join(out)


def _group(match: re2._Match, name: str) -> str:
    """The text of group `name` (a number or a name), "" when absent or unmatched."""
    if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")):
        index = int(name)
        if index > match.re.groups:
            return ""
        return match.group(index) or ""
    if name in match.re.groupindex:
        return match.group(name) or ""
    return ""
