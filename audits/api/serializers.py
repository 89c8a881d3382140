"""
The shapes of Telescope's JSON documents, for the OpenAPI schema at /api/schema/.

The views build these documents directly (they are on the hot path); these
serializers describe them field by field for API users and client generators.
`telescope_site/tests/test_api_schema.py` checks every real answer against them.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from audits import history
from bugtracker.serializers import BugSerializer
from foundation.api_schema import refusals


class SettingsSerializer(serializers.Serializer):
    cache = serializers.CharField()
    cache_lock_enabled = serializers.BooleanField()
    limit_requests_concurrency = serializers.IntegerField()
    limit_global_concurrency = serializers.IntegerField()
    request_max_retries = serializers.IntegerField()
    request_timeout_seconds = serializers.FloatField()
    client_parallel_requests = serializers.IntegerField()


class HelloSerializer(serializers.Serializer):
    hello = serializers.CharField()
    service = serializers.CharField()
    title = serializers.CharField()
    environment = serializers.CharField(allow_null=True, help_text="ENV_NAME; null when unset.")
    settings = SettingsSerializer()


class CheckInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    project = serializers.CharField()
    module = serializers.CharField(help_text="Dotted path of the check module.")
    tags = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(help_text="Markdown.")
    documentation = serializers.CharField(help_text="The module's docstring, Markdown.")
    url = serializers.CharField(help_text="Where to run this check alone.")
    ttl = serializers.IntegerField(help_text="Seconds a result is cached; 0: never.")
    parameters = serializers.DictField(
        help_text="Exposed parameters, with ${VAR} placeholders unresolved."
    )
    troubleshooting = serializers.CharField()
    depends_on = serializers.ListField(
        child=serializers.CharField(),
        help_text="The checks (project/name) this one depends on.",
    )


class HistoryPointSerializer(serializers.Serializer):
    t = serializers.CharField(help_text="UTC, YYYY-MM-DD HH:MM:SS.")
    success = serializers.BooleanField()
    scalar = serializers.FloatField(allow_null=True, help_text="The plotted value.")


class CheckResultSerializer(CheckInfoSerializer):
    datetime = serializers.DateTimeField(help_text="When the run started (UTC).")
    duration = serializers.IntegerField(help_text="Milliseconds.")
    success = serializers.BooleanField()
    data = serializers.JSONField(allow_null=True, help_text="What the check returned.")
    blocked_by = serializers.CharField(
        allow_null=True,
        help_text="While this check fails: the failing check (project/name) it depends on, "
        "whose failure this one is a consequence of (it does not alert). Else null.",
    )
    buglist = BugSerializer(many=True, help_text="Known bugs about the check.")
    history = HistoryPointSerializer(many=True, help_text="Its runs, equal neighbours folded.")


class UptimeSerializer(serializers.Serializer):
    """One field per window of `audits.history.UPTIME_WINDOWS`, named as the API
    names it (`24h`, `7d`, `30d`: not Python names, so made here)."""

    def get_fields(self):
        return {
            name: serializers.FloatField(
                allow_null=True, help_text="Percentage of passing runs; null when there was no run."
            )
            for name in history.UPTIME_WINDOWS
        }


class QueuedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    check = serializers.CharField(help_text="Where the result will be served.")
    history = serializers.CharField(help_text="Where the run will appear.")


# --- What the endpoints that run checks answer -----------------------------------------

OUTCOMES = {200: "Every check passed.", 503: "A check failed.", 500: "A check crashed."}
NOT_ACCEPTABLE = "An Accept header that allows neither JSON nor text/plain."
# `?format=` is no output switch here (see audits.api.negotiation): not in the schema.
NO_FORMAT = OpenApiParameter("format", exclude=True)


def run_responses(result, refused: dict[int, str]) -> dict:
    """The answers of an endpoint that runs checks: 200, 503 or 500 by outcome, with
    `result` as JSON or as Telescope's table (`Accept: text/plain`); the `refused`
    ones with their detail, as JSON or text; 406 for any other Accept."""
    responses = refusals({**refused, 406: NOT_ACCEPTABLE})
    for code, description in {**OUTCOMES, **refused}.items():
        if code in OUTCOMES:
            body = result if code == 200 else _same_for_any_status(result)
            responses[(code, "application/json")] = OpenApiResponse(body, description=description)
        responses[(code, "text/plain")] = OpenApiResponse(OpenApiTypes.STR, description=description)
    return responses


def _same_for_any_status(result):
    """`result` where drf-spectacular would make a list of it an object: it lists
    a `many=True` serializer in 2xx answers only, and 503 and 500 carry results too."""
    if not getattr(result, "many", False):
        return result
    name = type(result.child).__name__.removesuffix("Serializer")  # its component
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
