"""Fixtures of the errors tests."""

from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from errors.models import ErrorGroup, Occurrence, Service

# --- API and admin: groups and occurrences made in one line -------------------------

T0 = datetime(2030, 1, 2, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_group(db):
    """`make_group("key", service="shop", total_count=3, ...)` stores an error group."""

    def make(key="KeyError@app.py:1", service="shop", **fields):
        fields.setdefault("last_seen", T0)
        fields.setdefault("first_seen", fields["last_seen"])
        fields.setdefault("error_class", key.split("@")[0])
        service, _ = Service.objects.get_or_create(name=service)
        return ErrorGroup.objects.create(service=service, aggregation_key=key, **fields)

    return make


@pytest.fixture
def make_occurrence(db):
    """`make_occurrence(group, "uuid-1", timestamp, message=...)` stores an occurrence."""

    def make(group, uuid, timestamp=T0, **fields):
        fields.setdefault("error_class", group.error_class or "Error")
        return Occurrence.objects.create(group=group, uuid=uuid, timestamp=timestamp, **fields)

    return make


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_user("ops", is_staff=True))
    return client


@pytest.fixture
def api_token(db) -> str:
    """The key of an API token of an active, non-staff user."""
    return Token.objects.create(user=User.objects.create_user("ci-bot")).key
