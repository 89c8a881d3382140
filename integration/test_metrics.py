"""
/__metrics__ across processes: three gunicorn workers and a Celery worker share
PROMETHEUS_MULTIPROC_DIR, so every scrape gives the same totals whichever gunicorn
worker answers, and the runs the Celery worker made are in them.
"""

import json

import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from integration.conftest import heartbeat_toml, wait_until


def served_by_process(folder, endpoint: str) -> dict[str, float]:
    """{process: requests to `endpoint} it counted}, read from each process's file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))
        counts[path.stem] = sum(
            value for key, value, _, _ in values
            if json.loads(key)[0] == "telescope_request_summary"
            and json.loads(key)[2].get("endpoint") == endpoint
        )
    return counts


def samples(web) -> dict:
    """{(name, frozenset(labels)): value} of one scrape."""
    text = requests.get(web.url("/__metrics__"), timeout=30).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def total(scrape: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(value for (n, l), value in scrape.items() if n == name and wanted <= l)


def test_every_gunicorn_worker_reports_the_same_totals_with_the_workers_runs(cluster, upstream):
    cluster.env["PROMETHEUS_MULTIPROC_DIR"] = str(cluster.tmp_path / "metrics")
    url = upstream.route("/hb", json={"ok": True})
    cluster.import_checks(heartbeat_toml("p", "n", url, ttl=4))
    web, worker, _ = cluster.start(cluster.gunicorn(workers=3), cluster.worker("w1"), cluster.beat())
    wait_until(lambda: len(upstream.calls("/hb", agent="it-w1")) >= 2, 30, "no scheduled runs")

    for _ in range(30):
        assert requests.get(web.url("/checks"), timeout=30).status_code == 200

    scrapes = [samples(web) for _ in range(6)]
    served = [total(s, "telescope_request_summary_total", endpoint="/checks") for s in scrapes]
    assert served == [30] * 6, served
    # The 30 requests were served by several processes, each counting its own.
    per_process = served_by_process(cluster.tmp_path / "metrics", "/checks")
    assert len([n for n in per_process.values() if n]) >= 2, per_process
    assert sum(per_process.values()) == 30, per_process

    # The Celery worker's runs and refresh lag, counted in its own process.
    last = samples(web)
    runs = total(last, "telescope_check_runs_total", project="p", check="n")
    assert runs >= 2
    assert runs >= len(upstream.calls("/hb", agent="it-w1")) - 1  # one may be in flight
    assert total(last, "telescope_refresh_lag_seconds_count") >= 1
    assert worker.alive
