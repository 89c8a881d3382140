"""
Services to scrape, declared in `config.toml` or in Periskop's own YAML file.

    [errors.services.api]
    endpoint = "/errors"                 # path of the errors JSON (default /errors)
    scheme = "http"                      # or https
    refresh_interval = "30s"             # a duration (foundation.durations): 30, 30s, 1m30s, 1.5h
    request_headers = { Authorization = "Bearer ${API_TOKEN}" }
    follow_redirects = false             # true: follow a redirect to another host (without the headers)
    static_configs = [{ targets = ["10.0.0.1:8080"], labels = { zone = "a" } }]
    file_sd_configs = [{ files = ["targets/api-*.json"] }]
    dns_sd_configs = [{ names = ["_errors._tcp.api.example.com"], type = "SRV" }]
    relabel_configs = [{ source_labels = ["zone"], regex = "b", action = "drop" }]
    enabled = true
    alert_rate_per_hour = 100            # alert at 100 errors in an hour (notifications)

Periskop's YAML (`services:` with `name`, `scraper.endpoint`,
`scraper.refresh_interval` and the same discovery keys) reads into the same specs,
so a Periskop user migrates with the file they have; its `repository` section is
ignored (the database is `DATABASE_URL`). Relative `file_sd_configs` paths are
read from the folder of the file imported, as Prometheus reads them from its config
file's: that folder is kept on the service (`config_dir`), never written into the
paths, so an export keeps them as written. Everything is validated before anything
is written; each problem is `file: errors.services.<name>: field: what is wrong`
(`foundation.config.errors`).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from errors import discovery
from errors.models import Service
from foundation import durations
from foundation.config.errors import ConfigError, Problem
from foundation.names import field_problems

SERVICE_FIELDS = (
    "endpoint", "scheme", "refresh_interval", "request_headers", "follow_redirects", "enabled",
    "static_configs", "file_sd_configs", "dns_sd_configs", "relabel_configs",
    "alert_rate_per_hour",
)
DISCOVERY_FIELDS = ("static_configs", "file_sd_configs", "dns_sd_configs", "relabel_configs")


@dataclass
class ServiceSpec:
    name: str
    endpoint: str = "/errors"
    scheme: str = "http"
    refresh_interval: int = 30
    request_headers: dict = field(default_factory=dict)
    follow_redirects: bool = False
    discovery: dict = field(default_factory=dict)
    enabled: bool = True
    alert_rate_per_hour: int | None = None
    position: int = 0
    config_dir: str = ""  # where relative file_sd paths start; not exported

    def as_toml(self) -> dict:
        table: dict[str, Any] = {
            "endpoint": self.endpoint,
            "scheme": self.scheme,
            "refresh_interval": f"{self.refresh_interval}s",
        }
        if self.request_headers:
            table["request_headers"] = self.request_headers
        if self.follow_redirects:
            table["follow_redirects"] = True
        if not self.enabled:
            table["enabled"] = False
        if self.alert_rate_per_hour is not None:
            table["alert_rate_per_hour"] = self.alert_rate_per_hour
        return {**table, **self.discovery}


def read_section(section: Any, source: str, folder: str = "") -> list[ServiceSpec]:
    """The services of an `[errors]` section; ConfigError listing every problem.
    `folder`: that of the file, which relative file_sd paths start from."""
    services = section.get("services", {}) if isinstance(section, dict) else None
    if not isinstance(services, dict) or set(section) - {"services"}:
        raise ConfigError([
            Problem(source, "errors", "", "expected only [errors.services.<name>] tables")
        ])
    specs, problems = [], []
    for position, (name, table) in enumerate(services.items()):
        found = [
            Problem(source, f"errors.services.{name}", field, message)
            for field, message in _problems(name, table)
        ]
        problems += found
        if not found:
            specs.append(_spec(name, table, position, folder))
    if problems:
        raise ConfigError(problems)
    return specs


def from_periskop_yaml(document: Any, source: str) -> dict:
    """Periskop's YAML config as an `errors` section of our own format."""
    if not isinstance(document, dict) or not isinstance(document.get("services"), list):
        raise ConfigError([
            Problem(source, "services", "", "expected a list of services (Periskop's format)")
        ])
    services, problems = {}, []
    for i, entry in enumerate(document["services"]):
        found = _entry_problems(entry, services)
        problems += [Problem(source, f"services[{i}]", f, message) for f, message in found]
        if not found:
            table = {k: v for k, v in entry.items() if k not in ("name", "scraper")}
            services[entry["name"]] = {**table, **(entry.get("scraper") or {})}
    if problems:
        raise ConfigError(problems)
    return {"services": services}


def _entry_problems(entry: Any, services: dict) -> list[tuple[str, str]]:
    """(field, message) for each problem of one service of Periskop's list, before
    it is read as a table of ours."""
    if not isinstance(entry, dict):
        return [("", "expected a mapping with a name")]
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        return [("name", "missing")]
    problems = []
    if name in services:
        problems.append(("name", f"{name!r} is the name of an earlier service"))
    if not isinstance(entry.get("scraper") or {}, dict):
        problems.append(("scraper", "expected a mapping (endpoint, refresh_interval...)"))
    return problems


def _problems(name: str, table: Any) -> list[tuple[str, str]]:
    """(field, message) for each problem of one service."""
    naming = [("name", message) for message in field_problems(Service, "name", name)]
    if not isinstance(table, dict):
        return naming + [("", "expected a table")]
    problems = naming + [
        (key, f"unknown field (expected one of {', '.join(SERVICE_FIELDS)})")
        for key in table if key not in SERVICE_FIELDS
    ]
    problems += _field_problems(table)
    discovery_config = {k: table[k] for k in DISCOVERY_FIELDS if k in table}
    return problems + discovery.problems(discovery_config)


def _field_problems(table: dict) -> list[tuple[str, str]]:
    problems = []
    try:
        durations.whole_seconds(table.get("refresh_interval", 30))
    except durations.DurationError as exc:
        problems.append(("refresh_interval", str(exc)))
    endpoint = table.get("endpoint", "/errors")
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        problems.append(("endpoint", f"{endpoint!r} must be a path starting with /"))
    if table.get("scheme", "http") not in ("http", "https"):
        problems.append(("scheme", f"{table.get('scheme')!r} must be http or https"))
    headers = table.get("request_headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.append(("request_headers", "expected a table of strings"))
    for name, default in (("enabled", True), ("follow_redirects", False)):
        if not isinstance(table.get(name, default), bool):
            problems.append((name, "expected true or false"))
    rate = table.get("alert_rate_per_hour", 1)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        problems.append(("alert_rate_per_hour", f"{rate!r} must be a whole number, 1 or more"))
    return problems


def _spec(name: str, table: dict, position: int, folder: str) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        endpoint=table.get("endpoint", "/errors"),
        scheme=table.get("scheme", "http"),
        refresh_interval=durations.whole_seconds(table.get("refresh_interval", 30)),
        request_headers=table.get("request_headers", {}),
        follow_redirects=table.get("follow_redirects", False),
        discovery={k: table[k] for k in DISCOVERY_FIELDS if k in table},
        enabled=table.get("enabled", True),
        alert_rate_per_hour=table.get("alert_rate_per_hour"),
        position=position,
        config_dir=folder if _has_relative_sd_path(table) else "",
    )


def _has_relative_sd_path(table: dict) -> bool:
    # Only then does the folder matter: a service without one is not "changed" by an
    # import of the same file from another folder.
    files = [path for entry in table.get("file_sd_configs", []) for path in entry["files"]]
    return any(not Path(path).is_absolute() for path in files)
