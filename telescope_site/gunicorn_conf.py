"""
gunicorn settings of `manage.py serve` (the embedded mode of `make run`).

In embedded mode there is no Celery worker nor beat process: the one gunicorn
worker starts the scheduler as a thread, and tasks run on its in-process pool
(see `foundation.background`). The distributed mode runs gunicorn without this
file, next to `celery worker` and `celery beat`.
"""


def post_worker_init(worker):
    from foundation.background import start_embedded_beat
    from telescope_site.celery import app

    if app.conf.task_always_eager:
        start_embedded_beat(app)
