"""
Who may import whom (DESIGN.md, "The layout"), checked on the source: the import
graph of every non-test module of the project, built with `ast`, imports inside
functions included, since they run too and only hide a cycle.

* no import cycle between modules;
* `foundation` imports no app and not `telescope_site`;
* `checks` imports no Django and nothing of the project but `checks`;
* `audits` and `errors` never import each other; `bugtracker` imports neither;
  `notifications` (channels, maintenance windows), which both use, imports no app;
* an app imports from `telescope_site` at most the Celery app object;
* imports are absolute.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("telescope_site", "foundation", "audits", "errors", "bugtracker", "notifications",
           "checks")
APPS = ("audits", "errors", "bugtracker", "notifications")
# Packages that only serve tests: their imports are free.
TEST_SUPPORT = ("testing", "integration", "dashboard_tests")
DJANGO = ("django", "rest_framework", "drf_spectacular", "corsheaders", "whitenoise")
CELERY_APP = ("telescope_site.celery", "app")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package), as written
    name: str | None  # the name taken from it by `from target import name`
    line: int
    relative: bool = False

    def __str__(self):
        what = f"from {self.target} import {self.name}" if self.name else f"import {self.target}"
        return f"{self.source} (line {self.line}): {what}"


def modules(root: Path, packages=PROJECT) -> dict[str, Path]:
    """Every non-test module of `packages` under `root`, by dotted name."""
    found = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if "tests" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path) -> list[Import]:
    """The imports of one module, wherever they are in it (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{target}" if target else base
            found += [
                Import(name, target, alias.name, node.lineno, relative=bool(node.level))
                for alias in node.names
            ]
    return found


def graph(root: Path, packages=PROJECT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (`from p import m` counts as p.m)."""
    known = modules(root, packages)
    edges = {name: set() for name in known}
    for name, path in known.items():
        for imported in imports_of(name, path):
            target = _module(imported, known)
            if target and target != name:
                edges[name].add(target)
    return edges


def _module(imported: Import, known) -> str | None:
    if imported.name and f"{imported.target}.{imported.name}" in known:
        return f"{imported.target}.{imported.name}"
    return imported.target if imported.target in known else None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each
    as one cycle through it, in import order."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(_cycle_through(min(component), component, edges))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _cycle_through(start: str, component: set[str], edges) -> list[str]:
    """A shortest path from `start` back to itself inside `component`."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for target in sorted(edges[path[-1]] & component):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                paths.append([*path, target])
    raise AssertionError(f"no cycle through {start}")


def all_imports() -> list[Import]:
    return [i for name, path in modules(ROOT).items() for i in imports_of(name, path)]


def top(dotted: str) -> str:
    return dotted.partition(".")[0]


def breaking(rule: str, offenders: list[Import], fix: str) -> str:
    lines = "\n".join(f"  {offender}" for offender in offenders)
    return f"{rule}:\n{lines}\nHow to fix: {fix}"


# --- the rules ----------------------------------------------------------------------


def test_no_import_cycle_between_modules():
    found = cycles(graph(ROOT))
    assert not found, (
        "Import cycles (imports inside functions count: they only hide a cycle):\n"
        + "\n".join("  " + " -> ".join(cycle) for cycle in found)
        + "\nHow to fix: break each by design, not with an import inside a function: move "
        "the piece both need into a lower module, let the caller do the step that needs "
        "the upper module (return a value instead of acting), or pass a callable."
    )


def test_foundation_imports_no_app_and_not_the_project():
    offenders = [
        i for i in all_imports()
        if top(i.source) == "foundation" and top(i.target) in (*APPS, "telescope_site")
    ]
    assert not offenders, breaking(
        "foundation imports an app or telescope_site", offenders,
        "foundation is below the apps: move the app-specific part into the app, or let "
        "the app hand foundation what it needs (a setting, an argument, a registry the "
        "app fills in its AppConfig.ready()).",
    )


def test_checks_import_no_django_and_nothing_of_the_project():
    offenders = [
        i for i in all_imports()
        if top(i.source) == "checks"
        and (top(i.target) in DJANGO or top(i.target).startswith("django")
             or top(i.target) in PROJECT and top(i.target) != "checks")
    ]
    assert not offenders, breaking(
        "checks imports Django or the project", offenders,
        "check modules are plain functions run by dotted path, outside Django: take "
        "settings as run() parameters or from checks.config, and keep Django-aware code "
        "in audits.",
    )


@pytest.mark.parametrize("source, forbidden", [
    ("audits", ("errors",)),
    ("errors", ("audits",)),
    ("bugtracker", ("audits", "errors")),
    ("notifications", ("audits", "errors", "bugtracker")),
])
def test_apps_keep_apart(source, forbidden):
    offenders = [
        i for i in all_imports() if top(i.source) == source and top(i.target) in forbidden
    ]
    assert not offenders, breaking(
        f"{source} imports {' or '.join(forbidden)}", offenders,
        "audits and errors never import each other, and bugtracker, which both use, "
        "imports neither: move what they share into foundation (or bugtracker), and "
        "refer to another app's models by their 'app_label.Model' string.",
    )


def test_apps_take_only_the_celery_app_from_the_project():
    offenders = [
        i for i in all_imports()
        if top(i.source) != "telescope_site" and top(i.target) == "telescope_site"
        and (i.target, i.name) != CELERY_APP
    ]
    assert not offenders, breaking(
        "an app imports from telescope_site", offenders,
        "telescope_site is the wiring on top: read settings through django.conf.settings, "
        "send tasks with foundation.background.enqueue(), and import at most "
        "`from telescope_site.celery import app`.",
    )


def test_imports_are_absolute():
    offenders = [i for i in all_imports() if i.relative]
    assert not offenders, breaking(
        "relative imports", offenders, "write the full dotted path: `from audits import runner`."
    )


def test_every_package_is_either_checked_or_test_support():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    unknown = packages - set(PROJECT) - set(TEST_SUPPORT)
    assert not unknown, (
        f"Packages this test does not know: {sorted(unknown)}. How to fix: add each to "
        "PROJECT (its imports are then checked) or, if it only serves tests, to TEST_SUPPORT."
    )


# --- the checker itself -------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_hidden_in_a_function_is_found(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/runner.py": "from app import events\n",
        "app/events.py": "def send():\n    from app.tasks import deliver\n",
        "app/tasks.py": "import app.runner\n",
        "app/tests/test_x.py": "from app import tasks\n",
    })
    assert cycles(graph(tmp_path, ["app"])) == [
        ["app.events", "app.tasks", "app.runner", "app.events"]
    ]


def test_relative_imports_are_resolved_and_flagged(tmp_path):
    write(tmp_path, {"app/__init__.py": "", "app/a.py": "from . import b\n", "app/b.py": ""})
    (imported,) = imports_of("app.a", tmp_path / "app/a.py")
    assert (imported.target, imported.name, imported.relative) == ("app", "b", True)
    assert graph(tmp_path, ["app"])["app.a"] == {"app.b"}
