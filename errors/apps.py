"""Errors app configuration."""

from django.apps import AppConfig


class ErrorsConfig(AppConfig):
    name = "errors"
    verbose_name = "Errors"
    # import_config / export_config hand the [errors] section of config.toml to this.
    config_section = "errors"
    config_handler = "errors.config.section"

    def ready(self):
        # Registers the metrics collector and the receiver of unhandled exceptions.
        from errors import alerts, metrics  # noqa: F401
        from notifications.models import register_scope

        register_scope("services", alerts.unknown_services)
