"""
Work is queued by kind: each task goes to the queue of its kind, a worker started
without -Q serves every queue (dispatchers first), and every periodic task expires.
"""

import pytest
from django.conf import settings

from telescope_site.celery import app

KINDS = {
    "audits.tasks.dispatch_refreshes": "dispatchers",
    "errors.tasks.dispatch_scrapes": "dispatchers",
    "audits.tasks.run_checks_batch": "checks",
    "audits.tasks.run_requested": "checks",
    "audits.tasks.run_check": "checks",
    "audits.tasks.run_scheduled_check": "checks",
    "errors.tasks.scrape_service": "scrapes",
    "errors.tasks.scrape_shard": "scrapes",  # the shards of a large service's scrape
    "audits.events.send_webhook": "notifications",
    "bugtracker.tasks.sync_bugs": "notifications",
}


@pytest.mark.parametrize("task, queue", KINDS.items())
def test_each_task_goes_to_the_queue_of_its_kind(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_worker_without_q_serves_every_queue_dispatchers_first():
    assert list(app.amqp.queues) == ["dispatchers", "notifications", "scrapes", "checks"]
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_every_periodic_task_expires():
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert 0 < entry["options"]["expire_seconds"] <= entry["schedule"] * 10, name


def test_tasks_that_may_run_twice_come_back_when_their_worker_dies():
    app.loader.import_default_modules()
    for name in ("audits.tasks.run_checks_batch", "audits.tasks.run_requested",
                 "errors.tasks.scrape_service"):
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name
    assert not app.tasks["errors.tasks.dispatch_scrapes"].acks_late


@pytest.mark.django_db
def test_beat_sends_the_dispatchers_with_their_expiry():
    from django_celery_beat.schedulers import ModelEntry

    entry = ModelEntry.from_entry(
        "errors.dispatch_scrapes", app=app, **settings.CELERY_BEAT_SCHEDULE["errors.dispatch_scrapes"]
    )
    assert entry.options["expires"] == settings.DISPATCH_EXPIRE_SECONDS
