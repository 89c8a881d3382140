"""
No value in a payload breaks a scrape: real instances (the Python Periskop client
on 127.0.0.1) that serve a lone surrogate or a NUL byte are merged with the
others, their strings stored with U+FFFD in place, and the replacements counted.

Re-run on PostgreSQL (which refuses NUL in text and JSON) by
`test_hostile_payloads_on_postgresql` below, in a subprocess, as
audits/tests/test_databases.py does for its subset.
"""

import contextlib
import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY

from errors import scraper
from errors.models import ErrorGroup, Occurrence, Service, Target, TargetStatus
from errors.tests.periskop_instance import PeriskopInstance
from testing import services

SURROGATE_CONTEXT = {
    "request_method": "GET",
    "request_url": "/search?q=\ud800",
    "request_headers": {"X-Name-\udfff": "v"},
    "request_body": "half an emoji: \ud83d",
}


def sanitised(kind: str) -> float:
    return REGISTRY.get_sample_value("periskop_payload_sanitised_characters_total", {"kind": kind}) or 0


@pytest.fixture
def instances():
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(PeriskopInstance()) for _ in range(3)]


@pytest.mark.django_db(transaction=True)
def test_scrape_with_a_surrogate_and_a_nul_merges_every_instance(instances):
    surrogate, nul, plain = instances
    surrogate_key = surrogate.report(KeyError("k"), times=2, http_context=SURROGATE_CONTEXT)
    nul_key = nul.report(ValueError("nul \x00 here"), times=3, http_context={
        "request_method": "POST", "request_url": "/a", "request_headers": {"X-Nul": "a\x00b"},
        "request_body": "\x00",
    })
    plain_key = plain.report(OSError("disk"), times=4)
    before = {kind: sanitised(kind) for kind in ("nul", "surrogate")}
    service = Service.objects.create(
        name="api", discovery={"static_configs": [{"targets": [i.address for i in instances]}]}
    )

    report = scraper.scrape(service)

    assert (report.targets, report.up) == (3, 3)
    totals = dict(ErrorGroup.objects.values_list("aggregation_key", "total_count"))
    assert totals == {surrogate_key: 2, nul_key: 3, plain_key: 4}
    assert set(Target.objects.values_list("status", flat=True)) == {TargetStatus.UP}
    service.refresh_from_db()
    assert service.last_scrape_at is not None
    context = Occurrence.objects.filter(group__aggregation_key=surrogate_key).first().http_context
    assert context["request_url"] == "/search?q=\ufffd"
    assert context["request_headers"] == {"X-Name-\ufffd": "v"}
    assert context["request_body"] == "half an emoji: \ufffd"
    stored = Occurrence.objects.filter(group__aggregation_key=nul_key).first()
    assert stored.message == "nul \ufffd here"
    assert stored.http_context["request_headers"] == {"X-Nul": "a\ufffdb"}
    assert sanitised("nul") - before["nul"] >= 3
    assert sanitised("surrogate") - before["surrogate"] >= 3


@pytest.mark.django_db(transaction=True)
def test_instance_whose_counts_overflow_is_reported_on_its_target(instances):
    liar, plain, _ = instances
    liar.answer(
        b'{"aggregated_errors": ['
        b'{"aggregation_key": "a", "total_count": 9223372036854775807, "latest_errors": []},'
        b'{"aggregation_key": "b", "total_count": 1, "latest_errors": []}]}'
    )
    plain_key = plain.report(OSError("disk"), times=4)
    service = Service.objects.create(
        name="api", discovery={"static_configs": [{"targets": [liar.address, plain.address]}]}
    )
    report = scraper.scrape(service)
    assert report.up == 1
    assert dict(ErrorGroup.objects.values_list("aggregation_key", "total_count")) == {plain_key: 4}
    target = Target.objects.get(address=liar.address)
    assert target.status == TargetStatus.DOWN
    assert "add up to more than 2^63-1" in target.last_error


@pytest.mark.django_db(transaction=True)
def test_instance_with_a_deeply_nested_body_is_reported_on_its_target(instances):
    deep, plain, _ = instances
    body = b'{"aggregated_errors": [{"aggregation_key": "a", "total_count": 1, "latest_errors": ['
    body += b'{"timestamp": 1700000000, "error": {"class": "E"}, "http_context": {"request_body": '
    body += b"[" * 5000 + b"]" * 5000 + b"}}]}]}"
    deep.answer(body)
    plain_key = plain.report(OSError("disk"), times=1)
    service = Service.objects.create(
        name="api", discovery={"static_configs": [{"targets": [deep.address, plain.address]}]}
    )
    report = scraper.scrape(service)
    assert report.up == 1
    assert ErrorGroup.objects.get().aggregation_key == plain_key
    assert "nested too deeply" in Target.objects.get(address=deep.address).last_error


def test_hostile_payloads_on_postgresql():
    services.require("PostgreSQL", "127.0.0.1", 5432)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"{__file__}::test_scrape_with_a_surrogate_and_a_nul_merges_every_instance",
         "errors/tests/test_push.py"],
        env={**os.environ, "DATABASE_URL": services.POSTGRES_URL},
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, f"on PostgreSQL:\n{completed.stdout[-4000:]}"
    assert " passed" in completed.stdout
