"""
Shards of one service merged at once on PostgreSQL: by two processes merging
payloads of their own instances into the same groups, and by two Celery workers
scraping a service split into shards. Totals stay exact, nothing is stored twice.
"""

import requests

from errors.tests.periskop_instance import PeriskopInstance
from integration.conftest import PYTHON, wait_until

# One merger process: `ROUNDS` rounds; in each, every one of its `INSTANCES` instances
# reports all `KEYS` keys with a count that grew by its round number, merged in
# batches of `BATCH` instances. Both processes start together (a file they wait for).
MERGER = """
import os, time
from pathlib import Path
from errors import aggregation, payload
from errors.models import Service

side, go = os.environ["MERGER_SIDE"], Path(os.environ["MERGER_GO"])
ROUNDS, INSTANCES, KEYS, BATCH = 6, 20, 30, 5
service = Service.objects.get(name="shared")
Path(f"{go}-{side}-ready").touch()
while not go.exists():
    time.sleep(0.01)
for r in range(1, ROUNDS + 1):
    for start in range(0, INSTANCES, BATCH):
        batch = aggregation.Batch(service)
        for i in range(start, start + BATCH):
            document = {"target_uuid": f"{side}-{i}", "aggregated_errors": [
                {"aggregation_key": f"key-{k}", "total_count": r * (r + 1) // 2 + i,
                 "latest_errors": [{"uuid": f"{side}-{i}-{k}-{r}", "timestamp": 1.7e9 + r,
                                    "error": {"class": "E", "message": "m"}}]}
                for k in range(KEYS)]}
            batch.add(payload.parse(document), "unused")
        aggregation.merge(batch)
print("DONE", side)
"""
ROUNDS, INSTANCES, KEYS = 6, 20, 30


def test_two_processes_merging_shards_of_one_service_at_once_count_exactly(cluster):
    cluster.shell("from errors.models import Service\n"
                  "Service.objects.create(name='shared', enabled=False)\n")
    go = cluster.tmp_path / "go"
    mergers = [
        cluster.spawn(f"merger-{side}", [PYTHON, "manage.py", "shell", "--no-imports", "-c", MERGER],
                      MERGER_SIDE=side, MERGER_GO=str(go))
        for side in ("a", "b")
    ]
    wait_until(lambda: all(go.with_name(f"go-{side}-ready").exists() for side in "ab"), 60,
               lambda: "\n".join(m.tail() for m in mergers))
    go.touch()  # both set up: they merge at the same time
    for merger in mergers:
        wait_until(lambda m=merger: not m.alive, 300, lambda m=merger: m.tail())
        assert "DONE" in merger.tail(), merger.tail()

    # Each instance's last count is its total: 21 + i after 6 rounds.
    per_key = 2 * sum(ROUNDS * (ROUNDS + 1) // 2 + i for i in range(INSTANCES))
    totals = cluster.sql("SELECT aggregation_key, total_count FROM errors_errorgroup")
    assert sorted(totals) == sorted((f"key-{k}", per_key) for k in range(KEYS))
    assert cluster.sql("SELECT COUNT(*) FROM errors_targetcount") == [(2 * INSTANCES * KEYS,)]
    hourly = cluster.sql("SELECT SUM(count), COUNT(*) FROM errors_hourlycount")
    assert hourly[0][0] == per_key * KEYS
    duplicates = cluster.sql("SELECT group_id, uuid FROM errors_occurrence "
                             "GROUP BY group_id, uuid HAVING COUNT(*) > 1")
    assert duplicates == []


def test_two_workers_scrape_a_sharded_service_with_exact_totals(cluster):
    instances = [PeriskopInstance().start() for _ in range(6)]
    try:
        expected = 0
        for n, instance in enumerate(instances, start=1):
            key = instance.report(ValueError("boom"), times=n)
            expected += n
        targets = ", ".join(f'"{i.address}"' for i in instances)
        cluster.import_checks(
            f'[errors.services.api]\nrefresh_interval = "1s"\n'
            f"static_configs = [{{ targets = [{targets}] }}]\n"
        )
        shards = {"ERRORS_SCRAPE_SHARD_SIZE": "2"}
        web, w1, w2, _ = cluster.start(
            # The test reads the API many times a second, more than anonymous
            # readers may (ERRORS_ANONYMOUS_RATE).
            cluster.gunicorn(ERRORS_ANONYMOUS_RATE="100000/second"),
            cluster.worker("w1", **shards), cluster.worker("w2", **shards),
            cluster.beat(**shards),
        )

        def total():
            groups = requests.get(web.url("/services/api/errors/"), timeout=30).json()
            return next((g["total_count"] for g in groups if g["aggregation_key"] == key), None)

        wait_until(lambda: total() == expected, 60, lambda: f"total {total()} != {expected}")
        # Both workers take shards of the one service, and later scrapes add nothing.
        shard = "errors.tasks.scrape_shard"
        wait_until(lambda: shard in w1.tail(200) and shard in w2.tail(200), 60,
                   "the shards did not go to both workers")
        instances[0].report(ValueError("boom"), times=2)
        wait_until(lambda: total() == expected + 2, 30, lambda: f"total {total()}")
        seen = cluster.sql("SELECT last_scrape_at FROM errors_service")[0][0]
        wait_until(lambda: cluster.sql("SELECT last_scrape_at FROM errors_service")[0][0] > seen,
                   30, "no further scrape")
        assert total() == expected + 2
        assert cluster.sql("SELECT COUNT(*) FROM errors_targetcount") == [(6,)]
    finally:
        for instance in instances:
            instance.stop()
