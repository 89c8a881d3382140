"""Bug tracker app configuration."""

from django.apps import AppConfig


class BugtrackerConfig(AppConfig):
    name = "bugtracker"
    verbose_name = "Known bugs"
