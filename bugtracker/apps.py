"""Bug tracker app configuration: Bugzilla's sync is reported in the heartbeat."""

from django.apps import AppConfig


class BugtrackerConfig(AppConfig):
    name = "bugtracker"
    verbose_name = "Known bugs"

    def ready(self):
        from bugtracker.sync import heartbeat_entry
        from foundation.dockerflow import register_heartbeat

        register_heartbeat("bugzilla", heartbeat_entry)
