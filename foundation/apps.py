"""Foundation app configuration: no models, only shared pieces and commands."""

from django.apps import AppConfig


class FoundationConfig(AppConfig):
    name = "foundation"
    verbose_name = "Foundation"
