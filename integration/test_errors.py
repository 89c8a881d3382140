"""
Errors in the distributed mode: beat schedules the scrapes, two Celery workers
scrape real periskop-client instances into PostgreSQL, gunicorn serves the totals.
"""

import requests

from errors.tests.periskop_instance import PeriskopInstance
from integration.conftest import wait_until


def total(web, key: str):
    groups = requests.get(web.url("/services/api/errors/"), timeout=30).json()
    return next((g["total_count"] for g in groups if g["aggregation_key"] == key), None)


def scrapes(cluster) -> int:
    rows = cluster.sql("SELECT EXTRACT(EPOCH FROM last_scrape_at) FROM errors_service")
    return rows[0][0] if rows and rows[0][0] else 0


def test_workers_scrape_on_schedule_and_count_each_error_once(cluster):
    with PeriskopInstance() as a, PeriskopInstance() as b:
        key = a.report(ValueError("boom"), times=3)
        b.report(ValueError("boom"), times=2)
        cluster.import_checks(
            f'[errors.services.api]\nrefresh_interval = "1s"\n'
            f'static_configs = [{{ targets = ["{a.address}", "{b.address}"] }}]\n'
        )
        # This test polls the API as fast as it can from one address: not the crowd
        # ERRORS_ANONYMOUS_RATE holds back (tested in errors/tests/test_throttling.py).
        web, *_ = cluster.start(
            cluster.gunicorn(ERRORS_ANONYMOUS_RATE="100000/second"),
            cluster.worker("w1"), cluster.worker("w2"), cluster.beat(),
        )
        wait_until(lambda: total(web, key) == 5, 60, "the scrape never reached 5")

        # Several more scrapes, by either worker: still 5, nothing counted twice.
        seen = scrapes(cluster)
        wait_until(lambda: scrapes(cluster) >= seen + 3, 30, "no further scrapes")
        assert total(web, key) == 5

        a.restart()  # an instance restarts: its new errors are counted
        a.report(ValueError("boom"), times=1)
        wait_until(lambda: total(web, key) == 6, 30, "the restarted instance was not counted")

        metrics = requests.get(web.url("/metrics"), timeout=30).text
        assert (
            f'periskop_error_group_occurrences{{aggregation_key="{key}",service_name="api",'
            f'severity="error"}} 6.0'
        ) in metrics
