"""
Static files of the embedded mode: collected names when there are, else the sources.

`collectstatic` (run by `make run`) writes hashed copies that browsers may cache for
good, and a manifest mapping each name to its copy. The distributed mode requires
them (its image collects them when it is built). The embedded mode must also work
when nobody ran `collectstatic` (`manage.py runserver` on a fresh clone) or after a
pull added a file: a name missing from the manifest is then served under its own
name, from its source folder (WHITENOISE_USE_FINDERS), instead of failing every page
that uses it with "Missing staticfiles manifest entry".
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class EmbeddedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:  # not collected: whitenoise's finders serve the source
            return name
