"""
The answers every API shares, for the OpenAPI schema at /api/schema/: the body of
a refusal (`{"detail": "..."}`), the body of a validation error (messages by
field), and the refusals of endpoints that need a staff session or an API token.

Views declare their answers with `refusals({404: "Unknown check."})` beside their
successes; `telescope_site/tests/test_api_schema.py` calls every endpoint and
checks each real answer against what is declared.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What was refused, and why, for people to read.")


# DRF's answer to invalid query parameters or bodies: `{"field": ["message", ...]}`;
# or, for a request refused before any field is read (a NUL in the query string,
# foundation.middleware), `{"detail": "..."}`.
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
    },
    "description": "The messages of each invalid field, by field name; or `detail`.",
}

# The refusals of an endpoint guarded by IsStaffOrToken (token authenticator first).
CREDENTIALS = {
    401: "No credentials, or a wrong API token.",
    403: "A session of a user who is not staff, or a missing CSRF token.",
}


def refusals(descriptions: dict[int, str]) -> dict:
    """`{status: "why"}` as responses whose JSON body is `{"detail": "..."}`."""
    return {
        (status, "application/json"): OpenApiResponse(DetailSerializer, description=description)
        for status, description in descriptions.items()
    }


def field_errors(description: str) -> OpenApiResponse:
    return OpenApiResponse(FIELD_ERRORS, description=description)
