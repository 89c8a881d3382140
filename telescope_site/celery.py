"""
The Celery app, configured from Django settings (`CELERY_*`).

Apps import this object only. How a task is sent, and the embedded mode's pool and
scheduler, are in `foundation.background`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")

# Its broker connections reconnect promptly after an outage (see foundation.broker).
app = Celery("telescope_site", amqp="foundation.broker:AMQP")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
