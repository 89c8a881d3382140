"""Fixtures of the audits tests: checks made in one line."""

import pytest

from audits.models import Check, Tag
from audits.tests.checkmods import counter

MODULES = "audits.tests.checkmods"


@pytest.fixture
def make_check(db):
    """`make_check("p", "n", "echo", params={...}, tags=[...])` stores a check."""

    def make(project="proj", name="check", module="echo", params=None, tags=(), **fields):
        if "." not in module:
            module = f"{MODULES}.{module}"
        if params is None and module.endswith(".echo"):
            params = {"url": "http://example.com"}
        check = Check.objects.create(
            project=project, name=name, module=module, params=params or {}, **fields
        )
        check.tags.set([Tag.objects.get_or_create(name=t)[0] for t in tags])
        return Check.objects.prefetch_related("tags").get(pk=check.pk)

    return make


@pytest.fixture(autouse=True)
def _reset_counter():
    counter.reset()
