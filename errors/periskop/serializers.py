"""
The shapes of Periskop's JSON documents, for the OpenAPI schema at /api/schema/.

The views build them directly, byte-compatible with Periskop (`errors.periskop.views`);
these serializers describe them for API users, and
`telescope_site/tests/test_api_schema.py` checks every real answer against them.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

EPOCH = "Unix time, in whole seconds (0: unknown)."


@extend_schema_field({
    "type": "object",
    "nullable": True,
    "description": "The cause, of the same shape (class, message, stacktrace, cause), or null.",
})
class CauseField(serializers.JSONField):
    pass


class PeriskopErrorSerializer(serializers.Serializer):
    # "class" is a Python keyword: declared below.
    message = serializers.CharField()
    stacktrace = serializers.ListField(child=serializers.CharField())
    cause = CauseField()

    def get_fields(self):
        return {"class": serializers.CharField(help_text="The exception's class."),
                **super().get_fields()}


class HttpContextSerializer(serializers.Serializer):
    request_method = serializers.CharField()
    request_url = serializers.CharField()
    request_headers = serializers.DictField(child=serializers.CharField())
    request_body = serializers.CharField(allow_blank=True)


class PeriskopOccurrenceSerializer(serializers.Serializer):
    error = PeriskopErrorSerializer()
    uuid = serializers.CharField()
    timestamp = serializers.IntegerField(help_text=EPOCH)
    severity = serializers.CharField()
    http_context = HttpContextSerializer(allow_null=True)


class PeriskopGroupSerializer(serializers.Serializer):
    aggregation_key = serializers.CharField()
    total_count = serializers.IntegerField(help_text="Across every instance, since first seen.")
    severity = serializers.CharField()
    latest_errors = PeriskopOccurrenceSerializer(many=True, help_text="At most 100, newest first.")
    created_at = serializers.IntegerField(help_text=f"First seen. {EPOCH}")


class PushedSerializer(serializers.Serializer):
    increment = serializers.IntegerField(help_text="Occurrences added to the totals.")
    new_occurrences = serializers.IntegerField(help_text="Occurrence samples stored.")


LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
ACTIVE_TARGET = {
    "type": "object",
    "properties": {
        "endpoint": {"type": "string", "description": "address and path scraped"},
        "status": {"type": "string", "enum": ["unknown", "up", "down"]},
        "labels": {**LABELS, "description": "after relabelling"},
        "discovered_labels": {**LABELS, "description": "before relabelling"},
        "scrape_url": {"type": "string"},
        "last_scrape": {"type": "string", "format": "date-time", "nullable": True},
        "duration": {"type": "number", "nullable": True, "description": "seconds"},
        "last_error": {"type": "string"},
    },
    "required": [
        "endpoint", "status", "labels", "discovered_labels", "scrape_url", "last_scrape",
        "duration", "last_error",
    ],
}
DROPPED_TARGET = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["dropped"]},
        "discovered_labels": {**LABELS, "description": "before the rule that dropped it"},
    },
    "required": ["status", "discovered_labels"],
}
# `GET /targets/`: {service name: [target, ...]}.
TARGETS = {
    "type": "object",
    "description": "The targets of each service, by service name.",
    "additionalProperties": {"type": "array", "items": {"oneOf": [ACTIVE_TARGET, DROPPED_TARGET]}},
}
TARGET_STATE = OpenApiParameter(
    "state", str, enum=["active", "dropped", "any"], default="active",
    description="Which targets: those scraped (Periskop's answer), those relabelling "
    "dropped, or both.",
)
