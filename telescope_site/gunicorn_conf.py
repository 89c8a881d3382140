"""
gunicorn settings of the service, in both modes: `manage.py serve` (the embedded
mode of `make run`) and the distributed mode's web process
(`gunicorn -c python:telescope_site.gunicorn_conf telescope_site.wsgi:application`).

* In embedded mode there is no Celery worker nor beat process: the one gunicorn
  worker starts the scheduler as a thread, and tasks run on its in-process pool
  (see `foundation.background`).
* With several gunicorn workers and `PROMETHEUS_MULTIPROC_DIR` set, each worker
  writes its metrics to that folder, and `/__metrics__` sums them (see
  `foundation.metrics`); a worker that exits is marked dead there.
"""

import os

# The master process loads no application: it reads the settings for child_exit.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")


def post_worker_init(worker):
    from foundation.background import start_embedded_beat
    from telescope_site.celery import app

    if app.conf.task_always_eager:
        start_embedded_beat(app)


def child_exit(server, worker):
    from foundation.metrics import process_dead

    process_dead(worker.pid)
