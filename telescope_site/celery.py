"""
The Celery app, configured from Django settings (`CELERY_*`).

Tasks are discovered in each app's `tasks.py`. In the embedded mode no worker
runs; the distributed mode starts workers with `celery -A telescope_site worker`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")

app = Celery("telescope_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
