"""Errors app configuration."""

from django.apps import AppConfig


class ErrorsConfig(AppConfig):
    name = "errors"
    verbose_name = "Errors"
