"""
How work leaves a request: to the Celery workers, or to this process in the
embedded mode.

* distributed (`REDIS_URL` or `CELERY_BROKER_URL` set): `enqueue()` sends the task
  to Redis, for `celery -A telescope_site worker`;
* embedded (neither set, `make run`): `CELERY_TASK_ALWAYS_EAGER` is on, `enqueue()`
  runs tasks on a small thread pool of this process, and `start_embedded_beat()`
  fires the periodic tasks from a thread.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from celery.beat import EmbeddedService
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None

# The options of a task that may run twice without harm (a check run, a scrape):
# its message stays in the broker until the task is done, so that a task whose
# worker died (kill -9, out of memory, a machine lost) is run again, once, by
# another worker, after TASK_VISIBILITY_TIMEOUT_SECONDS (or at once when only a
# prefork child died). Dispatchers are not: the next one does their work.
RUN_AGAIN_IF_LOST = {"acks_late": True, "reject_on_worker_lost": True}


def enqueue(task, *args, eta=None):
    """Send `task(*args)` to the workers, or in embedded mode to this process's pool."""
    if not runs_here(task):
        return task.apply_async(args, eta=eta)
    return _embedded_pool().submit(_apply_logged, task, args)


def runs_here(task) -> bool:
    """Whether `enqueue(task)` runs it in this process (embedded mode), not on the workers."""
    return task.app.conf.task_always_eager


def start_embedded_beat(app):
    """Fire the periodic tasks of `app` from a thread of this process (embedded mode
    only); None, and an error logged, while the database is not migrated."""
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
        _pool = ThreadPoolExecutor(settings.EMBEDDED_WORKERS, thread_name_prefix="tasks")
    return _pool


def _apply_logged(task, args):
    close_old_connections()  # pool threads live long: never reuse a broken connection
    result = task.apply(args)
    if result.failed():
        logger.error("Task %s failed: %r", task.name, result.result)
    return result
