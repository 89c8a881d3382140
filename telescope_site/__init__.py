"""The Django project: settings, URLs, the Celery app, WSGI/ASGI entry points."""
