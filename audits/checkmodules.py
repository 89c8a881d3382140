"""
Check modules as the service sees them: loaded by dotted path, and described.

A check module (see `checks/__init__.py`) is imported once; its `run()` signature
gives the parameters a config may set, with their annotations and defaults, and its
docstring is the documentation shown to users. Loading failures become
`ModuleError`s that say what to fix, so the importer can report them per check.

Only modules under the `CHECK_MODULES` prefixes (default `checks.`) can be checks:
any other importable module with a `run` (`subprocess`, `cProfile`...) would let
whoever edits checks run any code. The allow-list is checked before importing, on
every load, so a row stored before the setting changed cannot run either.
"""

import functools
import importlib
import importlib.util
import inspect
import pkgutil
import typing
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings

import checks


class ModuleError(Exception):
    """The dotted path does not lead to a usable check module."""


class UnavailableModule(ModuleError):
    """The module is not installed here: a config written for another install
    (upstream Telescope's own checks) may name it. `import_config
    --skip-unavailable` imports the other checks."""


# Packages of upstream Telescope's checks (mozilla-services/telescope) that this
# service does not ship: they need Mozilla's services and libraries.
UPSTREAM_ONLY = (
    "checks.remotesettings", "checks.normandy", "checks.taskcluster",
    "checks.data_platform", "checks.poucave",
)


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: Any  # inspect.Parameter.empty when the parameter has none
    default: Any  # inspect.Parameter.empty when the parameter is required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class CheckModule:
    path: str
    run: Callable
    parameters: dict[str, Parameter]
    accepts_any_parameter: bool  # run(**kwargs)
    documentation: str
    exposed_parameters: tuple[str, ...]
    url_parameters: tuple[str, ...]
    default_plot: str | None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.run)


def load(path: str) -> CheckModule:
    """Import the module at `path` and describe it; raise ModuleError if unusable
    or not allowed."""
    if not is_allowed(path):
        prefixes = ", ".join(settings.CHECK_MODULES) or "(none)"
        raise ModuleError(
            f"module '{path}' is not an allowed check module: check modules must be "
            f"under the CHECK_MODULES prefixes ({prefixes}); add its package to the "
            "CHECK_MODULES setting to allow it"
        )
    return _load(path)


def is_allowed(path: str) -> bool:
    """Whether `path` is under one of the CHECK_MODULES prefixes (`checks.` allows
    `checks.core.heartbeat`, never `checksum` nor `checks` itself)."""
    prefixes = (prefix.rstrip(".") + "." for prefix in settings.CHECK_MODULES if prefix.strip("."))
    return any(path.startswith(prefix) for prefix in prefixes)


@functools.lru_cache(maxsize=None)
def _load(path: str) -> CheckModule:
    module = _import(path)
    run = getattr(module, "run", None)
    if not callable(run):
        raise ModuleError(f"module '{path}' has no run() function")
    return CheckModule(
        path=path,
        run=run,
        parameters=_parameters(path, run),
        accepts_any_parameter=_accepts_any_parameter(run),
        documentation=inspect.cleandoc(module.__doc__ or ""),
        exposed_parameters=tuple(getattr(module, "EXPOSED_PARAMETERS", ())),
        url_parameters=tuple(getattr(module, "URL_PARAMETERS", ())),
        default_plot=getattr(module, "DEFAULT_PLOT", None),
    )


def _shipped(path: str) -> bool:
    """Whether the package of `path` is installed here (someone may have added it)."""
    package = path.rpartition(".")[0]
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:
        return False


def installed() -> list[str]:
    """Dotted paths of the check modules shipped under `checks/`."""
    found = []
    for info in pkgutil.walk_packages(checks.__path__, prefix="checks."):
        if not info.ispkg and ".tests" not in info.name:
            try:
                load(info.name)
            except ModuleError:
                continue  # helpers such as checks.http have no run()
            found.append(info.name)
    return sorted(found)


def is_upstream_only(path: str) -> bool:
    """Whether `path` is in one of upstream Telescope's packages not shipped here."""
    return any(path == package or path.startswith(package + ".") for package in UPSTREAM_ONLY)


def _import(path: str):
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if is_upstream_only(path) and not _shipped(path):
            raise UnavailableModule(
                f"module '{path}' exists only in upstream Telescope "
                "(mozilla-services/telescope), not in this service"
            ) from None
        raise UnavailableModule(f"module '{path}' cannot be imported: {exc}") from None
    except Exception as exc:  # the module itself is broken: say how
        raise ModuleError(
            f"module '{path}' fails on import: {type(exc).__name__}: {exc}"
        ) from None


def _parameters(path: str, run: Callable) -> dict[str, Parameter]:
    try:
        hints = typing.get_type_hints(run)
    except Exception as exc:
        raise ModuleError(f"module '{path}': annotations of run() are invalid: {exc}")
    return {
        name: Parameter(name, hints.get(name, param.annotation), param.default)
        for name, param in inspect.signature(run).parameters.items()
        if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL)
    }


def _accepts_any_parameter(run: Callable) -> bool:
    kinds = {p.kind for p in inspect.signature(run).parameters.values()}
    return inspect.Parameter.VAR_KEYWORD in kinds
