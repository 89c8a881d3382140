"""
The Docker image holds the service and nothing of its tests, answers /__version__
from its build arguments, and reports the web server's health.

No Docker engine needed: the Dockerfile's instructions are read (and its
version.json command run here, as the build runs it), and the files `COPY . .`
takes are those .dockerignore lets through, matched as Docker matches them.
"""

import ast
import functools
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

from django.apps import apps

from .test_compose import (
    APP_SERVICES, argv, command_line, dockerfile, dockerfile_args, raw_compose, service,
)

ROOT = Path(__file__).resolve().parents[2]
VERSION_KEYS = ("source", "version", "commit", "build")


# --- What COPY . . takes --------------------------------------------------------------

def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex of slash-separated paths: `**` any number of
    folders, `*` and `?` within one name, `[...]` a class (Go's filepath.Match)."""
    pattern = os.path.normpath(pattern.strip()).lstrip("/")
    regex, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif pattern[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif pattern[index] == "?":
            regex, index = regex + "[^/]", index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            regex, index = regex + pattern[index : end + 1].replace("[!", "[^"), end + 1
        else:
            regex, index = regex + re.escape(pattern[index]), index + 1
    return re.compile(regex + r"\Z")


@functools.cache
def dockerignore() -> list[tuple[bool, re.Pattern]]:
    """(is an exception `!`, regex) per pattern, in order."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _pattern_regex(line.lstrip("!"))))
    return rules


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore():
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


@functools.cache
def image_files() -> frozenset[str]:
    """The paths (relative, with /) of the build context that `COPY . .` copies."""
    assert not any(negated for negated, _ in dockerignore()), (
        "a `!` exception can bring back files under an ignored folder: walk them too"
    )
    files = set()
    for folder, subfolders, names in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else relative + "/"
        subfolders[:] = [name for name in subfolders if not ignored(prefix + name)]
        files.update(prefix + name for name in names if not ignored(prefix + name))
    return frozenset(files)


def image_python_files() -> list[str]:
    return sorted(path for path in image_files() if path.endswith(".py"))


def imported_modules(path: str) -> set[str]:
    """Every module a file imports, at any level of the code, as absolute dotted names
    (`from a.b import c` gives a.b and a.b.c: c may be a module)."""
    tree = ast.parse((ROOT / path).read_text(), path)
    package = PurePosixPath(path).parent.parts
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    # a.b.c imports a and a.b too.
    return {".".join(name.split(".")[: n + 1]) for name in modules
            for n in range(name.count(".") + 1)}


def local_module_path(module: str) -> str | None:
    """The file of a module of this repository (relative), or None if it is not one."""
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def image_imports() -> dict[str, set[str]]:
    """{module imported by the image's code: the image's files importing it}."""
    importers: dict[str, set[str]] = {}
    for path in image_python_files():
        for module in imported_modules(path):
            importers.setdefault(module, set()).add(path)
    return importers


def test_image_holds_no_tests_benchmarks_or_development_files():
    for path in image_files():
        parts = path.split("/")
        name = parts[-1]
        assert "tests" not in parts[:-1], path
        assert name != "conftest.py" and not re.fullmatch(r"test_.*\.py", name), path
        assert parts[0] not in ("bench", "integration", "dashboard_tests", "testing", ".ci",
                                ".git", ".venv", "var", "test-artifacts"), path
        assert not re.fullmatch(r"requirements.*\.in|requirements-dev.*", name), path
        assert name not in (".env", "version.json", "db.sqlite3"), path


def test_image_holds_the_service():
    files = image_files()
    assert {"manage.py", "requirements.txt", "config.toml"} <= files
    # Every installed app of this repository (not of its virtualenv), whatever its name.
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(ROOT) and "site-packages" not in path.parts:
            assert f"{path.relative_to(ROOT).as_posix()}/__init__.py" in files, config.name
    for folder in ("templates", "static"):
        assert any(path.startswith(f"{folder}/") for path in files), folder


def test_code_in_the_image_imports_nothing_the_image_leaves_out():
    # testing/, the tests' fixtures and the like are not in the image: code that
    # imports them would fail there, at start-up or at the first call.
    files = image_files()
    missing = {
        module: sorted(importers)
        for module, importers in image_imports().items()
        if (path := local_module_path(module)) is not None and path not in files
    }
    assert missing == {}, "imported by the image's code but not copied into it"


# --- /__version__ ---------------------------------------------------------------------

def _version_json_run() -> str:
    (run,) = [arguments for arguments in dockerfile_args("RUN") if "version.json" in arguments]
    return run


def test_version_json_is_written_after_the_code_is_copied_from_declared_arguments():
    instructions = [(keyword, arguments) for keyword, arguments in dockerfile()]
    position = instructions.index(("RUN", _version_json_run()))
    before = instructions[:position]
    # After FROM (an ARG before it is not seen by the build stage) and after the
    # last COPY, which could otherwise replace it with a file of the context.
    from_index = max(i for i, (keyword, _) in enumerate(before) if keyword == "FROM")
    declared = {arguments.split("=", 1)[0] for keyword, arguments in before[from_index:]
                if keyword == "ARG"}
    assert {key.upper() for key in VERSION_KEYS} <= declared
    assert all(keyword != "COPY" for keyword, _ in instructions[position:])


def written_version_json(folder: Path, arguments: dict[str, str]) -> dict:
    """What the Dockerfile's version.json command writes, run as the build runs it: in
    `folder` (standing for WORKDIR), the build arguments in its environment."""
    env = {key: value for key, value in os.environ.items()
           if key not in {k.upper() for k in VERSION_KEYS}}
    env.update(arguments, PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    subprocess.run(["sh", "-c", _version_json_run()], cwd=folder, env=env, check=True,
                   timeout=60)
    # The processes run in WORKDIR, where VERSION_FILE's default (relative) points.
    from telescope_site import settings as site_settings

    default = site_settings.env.scheme["VERSION_FILE"][1]
    assert not os.path.isabs(default) and dockerfile_args("WORKDIR")[-1] == "/app"
    return json.loads((folder / default).read_text())


def test_version_json_is_dockerflows_format_from_the_build_arguments(tmp_path):
    # audits/tests/test_dockerflow.py: /__version__ serves this file as it is.
    arguments = {"SOURCE": "https://github.com/example/telescope-audits", "VERSION": "v1.2.3",
                 "COMMIT": "0123456789abcdef0123456789abcdef01234567",
                 "BUILD": "https://ci.example.com/builds/42"}
    assert written_version_json(tmp_path, arguments) == {
        key: arguments[key.upper()] for key in VERSION_KEYS
    }


def test_version_json_of_a_build_without_arguments_still_answers(tmp_path):
    assert written_version_json(tmp_path, {}) == dict.fromkeys(VERSION_KEYS, "")


# --- Health ---------------------------------------------------------------------------

def healthcheck() -> tuple[dict[str, str], str]:
    """The Dockerfile's HEALTHCHECK: ({option: value}, the CMD's shell line)."""
    (arguments,) = dockerfile_args("HEALTHCHECK")
    options_part, _, command = arguments.partition(" CMD ")
    options = dict(re.findall(r"--([\w-]+)=(\S+)", options_part))
    return options, command.strip()


def test_image_checks_the_web_servers_health_as_compose_does():
    options, command = healthcheck()
    curl, _, fallback = command.partition("||")
    # Docker reads 1 as unhealthy (curl's own codes, 7 or 22, are not its contract).
    assert fallback.strip() == "exit 1"
    args = shlex.split(curl)
    assert args[0] == "curl" and "-f" in "".join(a for a in args if re.fullmatch(r"-\w+", a))
    web = argv(service("web")["healthcheck"]["test"])
    assert args[-1] == web[-1], "the same URL as the web service's check in compose"
    assert args[-1].endswith("/__lbheartbeat__")
    for option in ("interval", "timeout", "start-period", "retries"):
        assert option in options, option


def test_services_that_serve_no_http_do_not_inherit_the_web_check():
    web_command = command_line(raw_compose()["services"]["web"]["command"])
    for name in APP_SERVICES:
        definition = service(name)
        if command_line(raw_compose()["services"][name]["command"]) == web_command:
            continue
        healthcheck_ = definition.get("healthcheck") or {}
        own = healthcheck_.get("test") and "__lbheartbeat__" not in command_line(
            healthcheck_["test"]
        )
        assert own or healthcheck_.get("disable") is True, (
            f"{name} would report the health of a web server it does not run"
        )
