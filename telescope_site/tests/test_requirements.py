"""
Production installs only what it runs, and every package of it is locked.

requirements.txt is the runtime lock (what the Dockerfile and `make run` install),
requirements-dev.txt the development lock (the runtime lock plus the test tools,
what `make test` installs), both compiled with their hashes by `make lock` from
requirements.in and requirements-dev.in. These tests read the files (pip-compile's
`# via` annotations give the dependency graph), the Dockerfile and the Makefile.
"""

import functools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from .test_compose import dockerfile_args
from .test_image import image_imports, local_module_path

ROOT = Path(__file__).resolve().parents[2]
# Test tools that must never reach production, whatever requirements-dev.in says:
# the floor of development_only() below, which also takes every package requirements-dev.in
# adds (a new test tool is covered the day it is added there).
KNOWN_TEST_TOOLS = {"pytest", "pytest-django", "pytest-xdist", "responses", "periskop-client",
                    "playwright", "openapi-core", "schemathesis"}


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them (PyYAML = pyyaml, tomli_w = tomli-w)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Locked:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)  # what requires it, per pip-compile


_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")


@functools.cache
def lock(filename: str) -> dict[str, Locked]:
    """A lock compiled by pip-compile: {name: Locked}. Fails on any unpinned line."""
    packages: dict[str, Locked] = {}
    current = None
    in_via = False
    for number, line in enumerate((ROOT / filename).read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not line[0].isspace() and not stripped.startswith("#"):
            match = _PIN.match(stripped)
            assert match, f"{filename}:{number}: not a pinned requirement: {line}"
            current = packages.setdefault(normalized(match[1]), Locked(match[2]))
            in_via = False
        elif stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif stripped.startswith("# via") and current is not None:
            rest = stripped.removeprefix("# via").strip()
            current.via.extend([rest] if rest else [])
            in_via = not rest
        elif in_via and stripped.startswith("#   "):
            current.via.append(stripped.removeprefix("#").strip())
        else:
            in_via = False
    return packages


@functools.cache
def direct(filename: str) -> dict[str, str]:
    """The pins of a requirements .in file: {name: version} (options and comments aside)."""
    pins = {}
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _PIN.fullmatch(line)
        assert match, f"{filename}: direct requirements are pinned (name==version): {line}"
        pins[normalized(match[1])] = match[2]
    return pins


def required_by(locked: dict[str, Locked]) -> dict[str, set[str]]:
    """{package: the packages of the lock it requires}, from the `# via` lines."""
    graph: dict[str, set[str]] = {name: set() for name in locked}
    for name, entry in locked.items():
        for parent in entry.via:
            if not parent.startswith("-"):  # "-r requirements.in", "-c requirements.txt"
                graph.setdefault(normalized(parent), set()).add(name)
    return graph


def closure(roots, graph) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def development_only() -> set[str]:
    """What only the tests use: every package requirements-dev.in adds to the runtime
    ones. None of them, nor anything that only they pull in, may reach production."""
    return (set(direct("requirements-dev.in")) - set(direct("requirements.in"))) | KNOWN_TEST_TOOLS


# --- The runtime lock -------------------------------------------------------------------


def test_every_test_tool_is_a_development_requirement():
    # A tool dropped from requirements-dev.in leaves the list above; one added to it
    # is a test tool at once, without editing this file.
    assert KNOWN_TEST_TOOLS <= set(direct("requirements-dev.in"))

def test_runtime_lock_holds_no_test_tool():
    assert development_only() & set(lock("requirements.txt")) == set()
    assert development_only() & set(direct("requirements.in")) == set()


def test_runtime_lock_holds_nothing_that_only_the_test_tools_need():
    dev = lock("requirements-dev.txt")
    graph = required_by(dev)
    tools = development_only()
    assert tools <= set(dev), "the development lock holds every test tool"
    runtime_roots = set(direct("requirements.in"))
    only_for_tests = closure(tools, graph) - closure(runtime_roots, graph)
    assert only_for_tests - tools, "the test tools pull in packages of their own"
    assert only_for_tests & set(lock("requirements.txt")) == set()


def test_every_locked_package_is_pinned_with_hashes():
    for filename in ("requirements.txt", "requirements-dev.txt"):
        for name, entry in lock(filename).items():
            assert entry.hashes, f"{filename}: {name} has no --hash"
            assert all(h.startswith("sha256:") for h in entry.hashes), (filename, name)


def test_runtime_lock_is_compiled_from_requirements_in():
    runtime = lock("requirements.txt")
    pins = direct("requirements.in")
    for name, version in pins.items():
        assert name in runtime, f"{name} of requirements.in is not locked: run `make lock`"
        assert runtime[name].version == version, (
            f"{name}: requirements.in pins {version}, the lock {runtime[name].version}: "
            "run `make lock`"
        )
    # A package dropped from requirements.in leaves the lock at the next `make lock`.
    declared = {name for name, entry in runtime.items() if "-r requirements.in" in entry.via}
    assert declared == set(pins)
    # Every other locked package is there because a locked package requires it.
    assert closure(pins, required_by(runtime)) == set(runtime)


def test_every_package_the_image_code_imports_is_a_direct_runtime_requirement():
    # A package the code imports itself (errors/fetch.py: urllib3, certifi) has its
    # version chosen in requirements.in, not left to whatever another one allows;
    # and a test tool imported by the service would be missing in production.
    distributions = packages_distributions()
    declared = set(direct("requirements.in"))
    undeclared = {}
    for module, importers in image_imports().items():
        top = module.split(".")[0]
        if "." in module or top in sys.stdlib_module_names or local_module_path(top):
            continue
        names = {normalized(name) for name in distributions.get(top, [])}
        if not names & declared:
            undeclared[top] = sorted(importers)
    assert undeclared == {}
    assert {"urllib3", "certifi"} <= declared


# --- The development lock ---------------------------------------------------------------

def test_tests_run_the_versions_production_runs():
    dev = lock("requirements-dev.txt")
    for name, entry in lock("requirements.txt").items():
        assert name in dev, f"{name} is in production but not in the development lock"
        assert (dev[name].version, sorted(dev[name].hashes)) == (
            entry.version, sorted(entry.hashes)
        ), f"{name}: the development lock differs from production's: run `make lock`"


def test_development_lock_is_compiled_from_requirements_dev_in():
    dev = lock("requirements-dev.txt")
    pins = direct("requirements-dev.in")
    assert development_only() <= set(pins)
    for name, version in pins.items():
        assert dev[name].version == version, f"{name}: run `make lock`"
    text = (ROOT / "requirements-dev.in").read_text()
    assert re.search(r"^-r requirements\.in$", text, re.MULTILINE), "the runtime's packages"
    assert re.search(r"^-c requirements\.txt$", text, re.MULTILINE), "at production's versions"


# --- Who installs what ------------------------------------------------------------------

def test_image_installs_only_the_runtime_lock_with_hashes():
    installs = [line for line in dockerfile_args("RUN") if re.search(r"\bpip3? install\b", line)]
    assert len(installs) == 1, installs
    words = installs[0].split()
    files = [words[i + 1] for i, word in enumerate(words) if word in ("-r", "--requirement")]
    assert files == ["requirements.txt"]
    assert "--require-hashes" in words
    copied = " ".join(dockerfile_args("COPY") + dockerfile_args("ADD"))
    assert "requirements-dev" not in copied


def make_dry_run(*args: str) -> str:
    """What `make` would run (nothing is run: -n)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    completed = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def installs(output: str) -> list[str]:
    return re.findall(r"pip install .*--require-hashes -r (\S+)", output)


def test_make_run_installs_only_the_runtime_lock():
    # -W: as if both locks had just changed.
    output = make_dry_run("-W", "requirements.txt", "-W", "requirements-dev.txt", "run")
    assert installs(output) == ["requirements.txt"]
    assert "requirements-dev" not in output


def test_make_test_reinstalls_when_either_lock_changes():
    assert installs(make_dry_run("-W", "requirements-dev.txt", "test"))[-1:] == [
        "requirements-dev.txt"
    ]
    assert installs(make_dry_run("-W", "requirements.txt", "test"))[-2:] == [
        "requirements.txt", "requirements-dev.txt"
    ]
