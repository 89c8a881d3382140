"""WSGI entry point, for gunicorn: `gunicorn telescope_site.wsgi`. Cached answers
are served before Django's handler (`foundation.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "telescope_site.settings")
application = get_wsgi_application()

from foundation.wsgi import CachedAnswers  # noqa: E402  (needs the settings, set up above)

application = CachedAnswers(application)
