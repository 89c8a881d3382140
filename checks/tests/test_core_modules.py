"""Contracts every built-in check module keeps, whatever it checks."""

import importlib
import inspect
import subprocess
import sys
from typing import Any

import pytest

CORE = [
    "heartbeat",
    "latency",
    "headers",
    "resource_age",
    "cloudfront_age",
    "certificate_expiration",
    "deployed_version",
    "deployed_commit",
    "maintenance",
    "http_versions",
    "readthedocs",
]


@pytest.fixture(params=CORE)
def module(request):
    return importlib.import_module(f"checks.core.{request.param}")


def test_check_documents_itself_with_an_example_config(module):
    assert f'module = "{module.__name__}"' in module.__doc__
    assert "[checks.myproject." in module.__doc__


def test_check_parameters_are_all_annotated(module):
    signature = inspect.signature(module.run)

    assert signature.return_annotation == tuple[bool, Any]
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, parameter.name
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_exposed_and_url_parameters_are_parameters_of_run(module):
    names = set(inspect.signature(module.run).parameters)

    assert set(module.EXPOSED_PARAMETERS) <= names
    assert set(module.URL_PARAMETERS) <= names


def test_checks_import_without_django():
    imports = "; ".join(f"import checks.core.{name}" for name in CORE)
    code = f"import sys; {imports}; print('django' in sys.modules)"

    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
