"""
The project as an installed app, for what only the project can do: its own
`runserver` (which starts the embedded scheduler, see
`telescope_site.management.commands.runserver`), the start-up line saying that a
secret key was generated (see `telescope_site.secret_key`), and the folder of the
collected static files of the embedded mode.

It is listed before `django.contrib.staticfiles` in INSTALLED_APPS, so that its
`runserver` is the one Django runs.
"""

import logging
from pathlib import Path

from django.apps import AppConfig

logger = logging.getLogger("telescope_site")


class SiteConfig(AppConfig):
    name = "telescope_site"
    verbose_name = "Telescope site"

    def ready(self):
        from django.conf import settings

        from telescope_site import secret_key

        if settings.EMBEDDED_MODE and settings.STATIC_ROOT:
            # Until `collectstatic` fills it, the files are served from their sources
            # (telescope_site.storage); whitenoise would warn that it is missing.
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
