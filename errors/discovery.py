"""
Service discovery: which instances of a service to scrape, configured like Prometheus.

A service lists its instances with any mix of the Prometheus sections below, written
in `config.toml` under `[errors.services.<name>]` or inline in a Periskop YAML file
(same keys, same meaning). Discovery runs again before every scrape, so a changed
target file or DNS record is picked up at the next scrape.

    [[errors.services.api.static_configs]]
    targets = ["10.0.0.1:7777", "10.0.0.2:7777"]
    labels = { zone = "eu-west-1a" }

    [[errors.services.api.file_sd_configs]]
    files = ["targets/api-*.json", "/etc/periskop/api.yml"]

    [[errors.services.api.dns_sd_configs]]
    names = ["_periskop._tcp.api.example.com"]      # SRV: hosts and ports from DNS

    [[errors.services.api.dns_sd_configs]]
    names = ["api.example.com"]
    type = "A"                                      # or "AAAA"; needs a port
    port = 7777

`static_configs`: a list of groups, each `targets` (a list of `host:port`) and
optional `labels` (names and string values) given to each of its targets.

`file_sd_configs`: `files` lists paths or globs (`*`, `?`, `[ab]`), each ending in
`.json`, `.yml` or `.yaml`; a relative path is relative to the folder of the file the
service was imported from, as Prometheus reads them relative to its config file
(`Service.config_dir`).
A file holds a list of groups in the `static_configs` format, in JSON or YAML
according to its extension (Prometheus' file_sd format):

    [{"targets": ["10.0.0.3:7777"], "labels": {"zone": "eu-west-1b"}}]

Files are read again before each scrape: targets added to a file appear, targets
removed from it (or a file deleted) disappear. A file that cannot be read or
parsed is reported on the service, and the other sources are still scraped.
Label values must be strings (quote numbers in YAML). Targets get
`__meta_filepath`, the path of their file.

`dns_sd_configs`: `names` to resolve (the resolver of the machine, search domains
included), `type` `SRV` (the default, as in Prometheus: each record gives
`target:port`), `A` or `AAAA` (each address with `port`, required). Targets get
`__meta_dns_name` (the name queried) and, for SRV, `__meta_dns_srv_record_target`
and `__meta_dns_srv_record_port`. A name that does not exist, or a DNS failure, is
reported on the service; a name that exists without records of that type has no
instance, which is no error.

`refresh_interval`, accepted in `file_sd_configs` and `dns_sd_configs` for
compatibility (a duration, `foundation.durations`), is ignored: discovery runs at
every scrape of the service.

Before relabelling, a target has, as in Prometheus: the labels of its group,
`__address__`, the `__meta_*` labels above, then, unless its group sets them,
`job` (the service's name), `__scheme__` (the service's `scheme`),
`__metrics_path__` (its `endpoint`), `__scrape_interval__` and `__scrape_timeout__`
(Prometheus durations, e.g. `30s`). These are its *discovered labels*.

`relabel_configs`: Prometheus relabelling rules (see `errors/relabel.py`), applied
to the discovered labels. A target that a rule drops is not scraped (it is listed
with the dropped targets). Then, as in Prometheus: an `__address__` without a port
gets the scheme's (80 for http, 443 for https, as Prometheus 2 did); the scrape URL
is `__scheme__://__address__` + `__metrics_path__` + a query of every
`__param_<name>` label; the `__meta_*` labels go; `instance` is set to
`__address__` unless a rule set it; and the labels not starting with `__` are the
target's *labels*. `__scrape_interval__` and `__scrape_timeout__` are for rules to
read: the service's interval and `ERRORS_SCRAPE_TIMEOUT_SECONDS` apply whatever
they become. A target whose `__scheme__` is not http or https, or whose
`__address__` is not a host:port, is skipped and reported. Targets are
de-duplicated by address (as Periskop does), the first one found (static, then
files, then DNS, in the order written) keeping its labels.

Other Prometheus mechanisms (`consul_sd_configs`, `kubernetes_sd_configs`, ...) are
not supported and are reported as such, rather than silently finding nothing.
"""

import glob
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import yaml

from errors import relabel as relabelling
from foundation import durations

Labels = dict[str, str]
Problem = tuple[str, str]  # (field, message), the field relative to an entry

SOURCES = ("static_configs", "file_sd_configs", "dns_sd_configs")
FILE_EXTENSIONS = (".json", ".yml", ".yaml")
DNS_TYPES = ("SRV", "A", "AAAA")
DEFAULT_PORTS = {"http": "80", "https": "443"}
PARAM_PREFIX = "__param_"
# What Go's url.URL leaves unescaped in a path (besides letters, digits and -._~).
_PATH_SAFE = "/$&+,:;=@"

_FIELDS = {
    "static_configs": ("targets", "labels"),
    "file_sd_configs": ("files", "refresh_interval"),
    "dns_sd_configs": ("names", "type", "port", "refresh_interval"),
}


@dataclass(frozen=True)
class ScrapeDefaults:
    """What a service gives each of its targets before relabelling, as a Prometheus
    scrape config does; an empty value sets no label."""

    job: str = ""
    scheme: str = "http"
    metrics_path: str = "/errors"
    interval: float = 30.0  # seconds
    timeout: float = 10.0  # seconds

    def labels(self) -> Labels:
        labels = {
            "job": self.job,
            "__scheme__": self.scheme,
            "__metrics_path__": self.metrics_path,
            "__scrape_interval__": prometheus_duration(self.interval),
            "__scrape_timeout__": prometheus_duration(self.timeout),
        }
        return {name: value for name, value in labels.items() if value}


@dataclass(frozen=True)
class DiscoveredTarget:
    address: str  # "host:port" (the final __address__ after relabelling)
    labels: dict[str, str]  # final labels after relabelling, without "__"-prefixed ones, sorted
    url: str = ""  # what is scraped: __scheme__://__address__ + __metrics_path__ + ?__param_*
    discovered_labels: dict[str, str] = field(default_factory=dict)  # before relabelling, sorted


@dataclass(frozen=True)
class Discovery:
    targets: list[DiscoveredTarget]
    dropped: list[Labels]  # the discovered labels of each target a rule dropped
    errors: list[str]


class DiscoveryError(Exception):
    """One source failed; the message says which and why (file path, DNS name)."""


# --- validation -------------------------------------------------------------------


def validate(config: dict, where: str) -> list[str]:
    """
    Problems in a service's discovery config, each "where: field: message" (e.g.
    "config.toml: errors.services.api: file_sd_configs[0].files: expected a list of paths"),
    [] when valid; see `problems()`.
    """
    return [": ".join(p for p in (where, *problem) if p) for problem in problems(config)]


def problems(config: dict) -> list[Problem]:
    """
    (field, message) for each problem in a service's discovery config, [] when valid.

    config keys: static_configs, file_sd_configs, dns_sd_configs, relabel_configs (all
    optional lists, Prometheus syntax). Unknown keys inside each entry are problems.
    Other keys of `config` belong to the caller and are ignored, except unsupported
    `*_sd_configs`, which are problems. Used by the importer before anything is written.
    """
    if not isinstance(config, dict):
        return [("", "expected a table of discovery settings")]
    found = [
        (key, f"not supported (supported: {', '.join(SOURCES)})")
        for key in config
        if key.endswith("_sd_configs") and key not in SOURCES
    ]
    checks = {
        "static_configs": _static_problems,
        "file_sd_configs": _file_sd_problems,
        "dns_sd_configs": _dns_sd_problems,
    }
    for section, check in checks.items():
        found += _section_problems(config, section, check)
    if "relabel_configs" in config:
        found += relabelling.problems(config["relabel_configs"])
    return found


def _section_problems(
    config: dict, section: str, check: Callable[[dict], list[Problem]]
) -> list[Problem]:
    """The problems of every entry of one `*_configs` list, their fields from `section` on."""
    if section not in config:
        return []
    entries = config[section]
    if not isinstance(entries, list):
        return [(section, "expected a list of tables")]
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            found.append((f"{section}[{index}]", "expected a table"))
            continue
        for field, message in _unknown_keys(entry, _FIELDS[section]) + check(entry):
            found.append((f"{section}[{index}]{'.' + field if field else ''}", message))
    return found


def _unknown_keys(entry: dict, known: tuple[str, ...]) -> list[Problem]:
    message = f"unknown field (known: {', '.join(known)})"
    return [(key, message) for key in entry if key not in known]


def _static_problems(group: dict) -> list[Problem]:
    """A target group: `targets` (list of host:port) and `labels` (strings by name)."""
    problems = []
    targets = group.get("targets", [])
    if not isinstance(targets, list):
        return [("targets", "expected a list of host:port strings")]
    for index, target in enumerate(targets):
        if (message := _address_problem(target)) is not None:
            problems.append((f"targets[{index}]", message))
    labels = group.get("labels", {})
    if not isinstance(labels, dict):
        return problems + [("labels", "expected a table of label names and string values")]
    for name, value in labels.items():
        if not isinstance(name, str) or not relabelling.LABEL_NAME.fullmatch(name):
            problems.append(("labels", f"{name!r} is not a valid label name"))
        elif not isinstance(value, str):
            problems.append((f"labels.{name}", "expected a string (quote numbers)"))
    return problems


def _address_problem(address: Any) -> str | None:
    """Why `address` cannot be scraped as host:port, or None."""
    if not isinstance(address, str) or not address:
        return "expected a host:port string"
    if "/" in address or any(c.isspace() for c in address):
        return f"{address!r} is not a valid host:port (no scheme, path or spaces)"
    return None


def _file_sd_problems(entry: dict) -> list[Problem]:
    files = entry.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        return [("files", "expected a list of paths")] + _interval_problems(entry)
    problems = [
        (f"files[{index}]", f"{path!r} must end in .json, .yml or .yaml")
        for index, path in enumerate(files)
        if not path.lower().endswith(FILE_EXTENSIONS)
    ]
    return problems + _interval_problems(entry)


def _dns_sd_problems(entry: dict) -> list[Problem]:
    problems = []
    names = entry.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        problems.append(("names", "expected a list of DNS names"))
    record_type = entry.get("type", "SRV")
    if not isinstance(record_type, str) or record_type.upper() not in DNS_TYPES:
        problems.append(("type", f"expected one of {', '.join(DNS_TYPES)}"))
    port = entry.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        problems.append(("port", "expected a port number"))
    elif port is not None and not 0 < port < 65536:
        problems.append(("port", f"{port} is not a port number (1-65535)"))
    elif port is None and isinstance(record_type, str) and record_type.upper() in ("A", "AAAA"):
        problems.append(("port", f"required for type {record_type.upper()}"))
    return problems + _interval_problems(entry)


def _interval_problems(entry: dict) -> list[Problem]:
    try:
        durations.parse(entry.get("refresh_interval", "1m"))
    except durations.DurationError as exc:
        return [("refresh_interval", str(exc))]
    return []


# --- discovery ----------------------------------------------------------------------


def discover(
    config: dict,
    *,
    base_dir: str = ".",
    resolver: dns.resolver.Resolver | None = None,
    defaults: ScrapeDefaults = ScrapeDefaults(),
) -> Discovery:
    """
    All targets of a service: static + file_sd + dns_sd, each group's labels merged with
    the target (target labels: __address__; file_sd/static group "labels"; dns adds
    __meta_dns_name) and the `defaults`, relabelled, de-duplicated by address (first
    wins). A failing source (unreadable/invalid file, DNS failure) is reported in
    `errors` and skipped, the other sources still count. An invalid config yields no
    target and its problems as errors.

    file_sd "files" entries may be globs (relative to base_dir), JSON or YAML by
    extension (.json / .yml / .yaml), Prometheus file_sd format:
    [{"targets": [...], "labels": {...}}]. Files are re-read on each call; parsed
    content is cached by (path, mtime, size) so unchanged files are not parsed again;
    a file that disappears simply yields no targets.

    dns_sd_configs: {"names": [...], "type": "A" | "AAAA" | "SRV" (default SRV), "port":
    int (required for A/AAAA)}; SRV gives target:port from the records. `resolver` is
    injectable (a dns.resolver.Resolver) for tests; by default the system's.
    """
    problems = validate(config, "discovery config")
    if problems:
        return Discovery([], [], problems)
    found, errors = _static_targets(config.get("static_configs", [])), []
    for index, entry in enumerate(config.get("file_sd_configs", [])):
        targets, failures = _file_sd_targets(entry, base_dir, f"file_sd_configs[{index}]")
        found += targets
        errors += failures
    for index, entry in enumerate(config.get("dns_sd_configs", [])):
        targets, failures = _dns_sd_targets(entry, resolver, f"dns_sd_configs[{index}]")
        found += targets
        errors += failures
    targets, dropped, failures = _finalise(found, config.get("relabel_configs", []), defaults)
    return Discovery(targets, dropped, errors + failures)


def _group_targets(group: dict, extra: Labels | None = None) -> list[Labels]:
    """One label set per target of a group: group labels, `extra`, then __address__."""
    labels = {**group.get("labels", {}), **(extra or {})}
    return [{**labels, "__address__": address} for address in group.get("targets", [])]


def _static_targets(groups: list[dict]) -> list[Labels]:
    return [target for group in groups for target in _group_targets(group)]


def _finalise(
    found: list[Labels], rules: list[dict], defaults: ScrapeDefaults
) -> tuple[list[DiscoveredTarget], list[Labels], list[str]]:
    """Relabel, set aside what is dropped or unscrapable, de-duplicate by address."""
    targets: dict[str, DiscoveredTarget] = {}
    dropped: list[Labels] = []
    skipped: list[str] = []
    for labels in found:
        discovered = dict(sorted({**defaults.labels(), **labels}.items()))
        final = relabelling.relabel(discovered, rules)
        if final is None:
            dropped.append(discovered)
            continue
        target = _target(discovered, final)
        if isinstance(target, str):
            skipped.append(target)
        else:
            targets.setdefault(target.address, target)
    errors = []
    if skipped:
        # One message, not one per target: a wrong rule usually breaks them all.
        errors.append(
            f"relabel_configs: {len(skipped)} target(s) skipped after relabelling, "
            f"e.g. {skipped[0]}"
        )
    return list(targets.values()), dropped, errors


def _target(discovered: Labels, final: Labels) -> DiscoveredTarget | str:
    """The target the relabelled labels `final` describe, or why there is none."""
    scheme = final.get("__scheme__", "")
    if scheme not in DEFAULT_PORTS:
        return f"__scheme__ {scheme!r} is not http or https"
    address = _with_port(final.get("__address__", ""), scheme)
    if (problem := _address_problem(address)) is not None:
        return f"__address__: {problem}"
    final = {name: value for name, value in final.items() if not name.startswith("__meta_")}
    final = {"instance": address, **final, "__address__": address}
    labels = {name: value for name, value in sorted(final.items()) if name[:2] != "__"}
    return DiscoveredTarget(address, labels, scrape_url(final), discovered)


def _with_port(address: str, scheme: str) -> str:
    """`address` with its scheme's port if it has none, as Prometheus 2 did."""
    if not address or _has_port(address) or not _has_port(f"{address}:1234"):
        return address  # a port already, or not an address a port would make valid
    return f"{address}:{DEFAULT_PORTS[scheme]}"


def _has_port(address: str) -> bool:
    """Whether Go's net.SplitHostPort reads `address` as host:port (IPv6 in brackets)."""
    host, colon, _ = address.rpartition(":")
    if not colon:
        return False
    if host.startswith("["):
        return host.endswith("]") and "[" not in host[1:] and "]" not in host[:-1]
    return ":" not in host and "[" not in address and "]" not in address


def scrape_url(labels: Labels) -> str:
    """The URL Prometheus scrapes for a target's final labels (Go's url.URL.String)."""
    path = labels.get("__metrics_path__", "")
    if path and not path.startswith("/"):
        path = "/" + path  # Go's URL puts the slash between host and path
    params = sorted(
        (name[len(PARAM_PREFIX):], value)
        for name, value in labels.items() if name.startswith(PARAM_PREFIX)
    )
    query = f"?{urlencode(params)}" if params else ""
    return f"{labels['__scheme__']}://{labels['__address__']}{quote(path, safe=_PATH_SAFE)}{query}"


def prometheus_duration(seconds: float) -> str:
    """`seconds` written as Prometheus writes a duration: 30s, 1m30s, 1h, 1d, 500ms."""
    left = round(seconds * 1000)
    if left == 0:
        return "0s"
    text = ""
    # Years and weeks only when nothing is left over, as Prometheus ("90d", not "12w6d").
    for unit, size, exact in _DURATION_UNITS:
        if (exact and left % size) or left < size:
            continue
        text, left = text + f"{left // size}{unit}", left % size
    return text


_DURATION_UNITS = (
    ("y", 365 * 86_400_000, True), ("w", 7 * 86_400_000, True), ("d", 86_400_000, False),
    ("h", 3_600_000, False), ("m", 60_000, False), ("s", 1000, False), ("ms", 1, False),
)


# --- file_sd ---------------------------------------------------------------------------


def _file_sd_targets(entry: dict, base_dir: str, source: str) -> tuple[list[Labels], list[str]]:
    targets, errors = [], []
    for path in _matching_files(entry["files"], base_dir):
        try:
            groups = _read_groups(path)
        except DiscoveryError as error:
            errors.append(f"{source}: {error}")
            continue
        for group in groups:
            # Prometheus sets the file's path on the group, over any label of that name.
            targets += _group_targets(group, {"__meta_filepath": path})
    return targets, errors


def _matching_files(patterns: list[str], base_dir: str) -> list[str]:
    """The existing files matching `patterns`, sorted per pattern, each once."""
    paths: dict[str, None] = {}  # ordered set
    for pattern in patterns:
        # base_dir is a directory, not a pattern: its own `[` or `*` must match literally.
        full = pattern if os.path.isabs(pattern) else os.path.join(glob.escape(base_dir), pattern)
        # glob() of a plain path that is missing is [], which is what a deleted file means.
        for path in sorted(glob.glob(full)):
            if os.path.isfile(path):
                paths[path] = None
    return list(paths)


class _ParsedFiles:
    """
    Target groups parsed from files, reused while a file's stat is unchanged.

    A file changed within the last RACY_SECONDS is not cached: a rewrite in the same
    clock tick, keeping the size, would leave the same (mtime, size) and be missed
    (git's "racy clean" problem).
    """

    RACY_SECONDS = 2.0
    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[tuple, list[dict] | str]] = OrderedDict()
        self._lock = threading.Lock()  # the scraper may discover from several threads

    def get(self, path: str, signature: tuple) -> list[dict] | str | None:
        with self._lock:
            cached = self._entries.get(path)
            if cached is None or cached[0] != signature:
                return None
            self._entries.move_to_end(path)
            return cached[1]

    def put(self, path: str, signature: tuple, mtime: float, parsed: list[dict] | str) -> None:
        if time.time() - mtime < self.RACY_SECONDS:
            return
        with self._lock:
            self._entries[path] = (signature, parsed)
            self._entries.move_to_end(path)
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


_parsed_files = _ParsedFiles()


def _read_groups(path: str) -> list[dict]:
    """The valid target groups of file `path`; DiscoveryError naming it if unreadable or invalid."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return []  # deleted since the glob: no targets, like a file that never was
    except OSError as error:
        raise DiscoveryError(f"{path}: cannot read: {error.strerror}") from None
    signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev)
    parsed = _parsed_files.get(path, signature)
    if parsed is None:
        parsed = _parse_file(path)  # an error message is cached too: no re-parse until fixed
        _parsed_files.put(path, signature, stat.st_mtime, parsed)
    if isinstance(parsed, str):
        raise DiscoveryError(parsed)
    return parsed


def _parse_file(path: str) -> list[dict] | str:
    """The target groups of `path`, or the error message naming it."""
    try:
        with open(path, "rb") as file:
            content = file.read()
    except FileNotFoundError:
        return []
    except OSError as error:
        return f"{path}: cannot read: {error.strerror}"
    is_json = path.lower().endswith(".json")
    try:
        groups = _load_json(content) if is_json else _load_yaml(content)
    except ValueError as error:
        return f"{path}: invalid {'JSON' if is_json else 'YAML'}: {error}"
    problems = _groups_problems(groups, strict=not is_json)
    if problems:
        return f"{path}: {'; '.join(problems)}"
    return groups


def _load_json(content: bytes) -> Any:
    return json.loads(content)  # its JSONDecodeError is a ValueError


def _load_yaml(content: bytes) -> Any:
    try:
        loaded = yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ValueError(str(error).replace("\n", " ")) from None
    return [] if loaded is None else loaded  # an empty YAML file is no group, as in Prometheus


def _groups_problems(groups: Any, strict: bool) -> list[str]:
    """
    Problems of a file's content. Unknown keys are problems in YAML only: Prometheus
    reads YAML strictly but ignores unknown keys in JSON, and files written for it
    must keep working.
    """
    if not isinstance(groups, list):
        return ['expected a list of groups like [{"targets": [...], "labels": {...}}]']
    problems = []
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            problems.append(f"[{index}]: expected a table with targets and labels")
            continue
        found = _static_problems(group)
        if strict:
            found = _unknown_keys(group, _FIELDS["static_configs"]) + found
        problems += [f"[{index}].{field}: {message}" for field, message in found]
    return problems


# --- dns_sd ------------------------------------------------------------------------------


def _dns_sd_targets(
    entry: dict, resolver: dns.resolver.Resolver | None, source: str
) -> tuple[list[Labels], list[str]]:
    record_type = entry.get("type", "SRV").upper()
    if resolver is None:
        try:
            resolver = dns.resolver.Resolver()  # reads /etc/resolv.conf each time: it may change
        except dns.exception.DNSException as error:
            return [], [f"{source}: no DNS resolver: {error}"]
    targets, errors = [], []
    for name in entry["names"]:
        try:
            targets += _resolve(resolver, name, record_type, entry.get("port"))
        except DiscoveryError as error:
            errors.append(f"{source}: {error}")
    return targets, errors


def _resolve(
    resolver: dns.resolver.Resolver, name: str, record_type: str, port: int | None
) -> list[Labels]:
    """The targets of one DNS name, sorted by address (servers rotate their answers)."""
    try:
        answer = resolver.resolve(name, record_type, search=True)
    except dns.resolver.NoAnswer:
        return []  # the name exists with no record of this type: no instance right now
    except dns.resolver.NXDOMAIN:
        raise DiscoveryError(f"{name} ({record_type}): no such DNS name (NXDOMAIN)") from None
    except (dns.exception.DNSException, ValueError) as error:
        raise DiscoveryError(f"{name} ({record_type}): DNS lookup failed: {error}") from None
    targets = [_record_target(name, record, port) for record in answer]
    return sorted((t for t in targets if t is not None), key=lambda t: t["__address__"])


def _record_target(name: str, record: Any, port: int | None) -> Labels | None:
    """The labels of the target one record gives, None if it gives none."""
    labels = {"__meta_dns_name": name}
    if record.rdtype == dns.rdatatype.SRV:
        if record.target == dns.name.root:
            return None  # RFC 2782: target "." means the service is not available there
        labels["__meta_dns_srv_record_target"] = record.target.to_text()
        labels["__meta_dns_srv_record_port"] = str(record.port)
        labels["__address__"] = f"{record.target.to_text(omit_final_dot=True)}:{record.port}"
    elif record.rdtype == dns.rdatatype.AAAA:
        labels["__address__"] = f"[{record.address}]:{port}"
    elif record.rdtype == dns.rdatatype.A:
        labels["__address__"] = f"{record.address}:{port}"
    else:
        return None
    return labels
