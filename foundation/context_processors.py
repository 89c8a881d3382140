"""What every dashboard page shows in its frame: the title and the environment."""

from django.conf import settings


def dashboard(request) -> dict:
    return {
        "service_title": settings.SERVICE_TITLE,
        "env_name": settings.ENV_NAME,
        "public_dashboard": settings.PUBLIC_DASHBOARD,
    }
