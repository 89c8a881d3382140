"""The notifications app: channels, deliveries and maintenance windows."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import maintenance

        maintenance.connect_cache_invalidation()
