"""
The Celery app, configured from Django settings (`CELERY_*`).

Two modes, one code base:

* distributed (`REDIS_URL` or `CELERY_BROKER_URL` set): tasks go to Redis and run
  on `celery -A telescope_site worker`; `celery -A telescope_site beat` fires the
  schedules (see `telescope_site.beat`);
* embedded (neither set, `make run`): `CELERY_TASK_ALWAYS_EAGER` is on and
  `enqueue()` runs tasks on a small thread pool in this process, while
  `start_embedded_beat()` fires the same schedules from a thread.
"""

import logging
import os
from concurrent.futures import ThreadPoolExecutor

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")

app = Celery("telescope_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None


def enqueue(task, *args, eta=None):
    """Send `task(*args)` to the workers, or in embedded mode to this process's pool."""
    if not app.conf.task_always_eager:
        return task.apply_async(args, eta=eta)
    return _embedded_pool().submit(_apply_logged, task, args)


def start_embedded_beat():
    """Fire the periodic tasks from a thread of this process (embedded mode only);
    None, and an error logged, while the database is not migrated."""
    from celery.beat import EmbeddedService

    if _unapplied_migrations():
        # The scheduler reads its schedules from tables that may not exist yet: its
        # thread would die with a traceback, and nothing would say why.
        logger.error(
            "Embedded scheduler not started: the database has unapplied migrations; "
            "run `python manage.py migrate`, then restart"
        )
        return None
    app.loader.import_default_modules()  # register every app's tasks.py, as a worker does
    # The dispatchers run every second or two: a line each would drown the web log.
    for name in ("celery.beat", "celery.app.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
    beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
    beat.start()
    logger.info("Embedded scheduler started")
    return beat


def _unapplied_migrations() -> bool:
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return False  # unreachable: the scheduler retries, as it always did
    finally:
        connection.close()  # this thread serves no request: do not keep it open


def _embedded_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        from django.conf import settings

        _pool = ThreadPoolExecutor(settings.EMBEDDED_WORKERS, thread_name_prefix="tasks")
    return _pool


def _apply_logged(task, args):
    from django.db import close_old_connections

    close_old_connections()  # pool threads live long: never reuse a broken connection
    result = task.apply(args)
    if result.failed():
        logger.error("Task %s failed: %r", task.name, result.result)
    return result
