"""
Foundation app configuration: no models, only shared pieces and commands.

It is listed before `django.contrib.staticfiles` in INSTALLED_APPS, so that its
`runserver` (which starts the embedded scheduler) is the one Django runs. At start
it says when a secret key was generated (`foundation.secret_key`), and makes the
folder of the collected static files of the embedded mode.
"""

import logging
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("foundation")


class FoundationConfig(AppConfig):
    name = "foundation"
    verbose_name = "Foundation"

    def ready(self):
        from foundation import secret_key

        if settings.EMBEDDED_MODE and settings.STATIC_ROOT:
            # Until `collectstatic` fills it, the files are served from their sources
            # (foundation.storage); whitenoise would warn that it is missing.
            try:
                Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # a read-only tree: only the warning is left, the files are served

        # Logged here because settings are read before logging is configured.
        if secret_key.created is not None:
            logger.info(
                "No SECRET_KEY set: generated one in %s (mode 0600), reused at every "
                "start; set SECRET_KEY to use your own",
                secret_key.created,
            )
