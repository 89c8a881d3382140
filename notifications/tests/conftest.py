"""Fixtures of the notifications tests: a real SMTP server, channels in one line."""

import pytest

from notifications.models import Channel
from testing.smtp import SMTPReceiver


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1, which Django's mail settings point to."""
    with SMTPReceiver() as receiver:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", receiver.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield receiver


@pytest.fixture
def make_channel(db):
    def make(name="ops", kind="webhook", **fields):
        channel = Channel(name=name, kind=kind, **fields)
        channel.full_clean()
        channel.save()
        return channel

    return make
