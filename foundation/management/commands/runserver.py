"""
`python manage.py runserver`, which also fires the schedules in the embedded mode.

In the embedded mode nothing else runs the scheduled work (refresh-ahead, scrapes,
Bugzilla sync): `manage.py serve` starts the scheduler in its gunicorn worker, and
this command starts the same one in the process that serves. With the autoreloader
that is the child process (RUN_MAIN), never the parent that only watches the files;
each restart after an edit starts a new child, and so a new scheduler. In the
distributed mode Celery beat and workers do this work, and nothing is started here.

It also prints where the dashboard is and how to get a login, as `serve` does.
"""

from celery import current_app
from django.contrib.staticfiles.management.commands.runserver import (
    Command as StaticfilesRunserver,
)

from foundation.background import start_embedded_beat
from foundation.management.commands.serve import login_instructions


class Command(StaticfilesRunserver):
    help = StaticfilesRunserver.help + " Starts the scheduler in the embedded mode."

    def on_bind(self, server_port):
        # Called once the server listens, in the process that serves requests.
        super().on_bind(server_port)
        self.stdout.write(login_instructions(self.addr, server_port, self.protocol), ending="")
        # The project's Celery app, the condition of `serve` (gunicorn_conf.py).
        if current_app.conf.task_always_eager:
            start_embedded_beat(current_app)
