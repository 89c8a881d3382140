"""
The JSON shapes of the errors API under `/api/errors/`, and the validation of what
clients send to it (query parameters and bodies): a bad value answers 400 with a
message that names the field and, for choices, lists the allowed values.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from bugtracker.matching import buglist_for_error_group
from bugtracker.serializers import BugSerializer
from errors.models import ErrorGroup, GroupStatus, Occurrence

URL_NAMESPACE = "errors_api"

STATUS_FILTERS = [GroupStatus.ACTIVE, GroupStatus.RESOLVED, GroupStatus.IGNORED]
ORDERINGS = ["-last_seen", "last_seen", "-total_count", "total_count", "-first_seen", "first_seen"]
DEFAULT_HOURS = 168
MAX_HOURS = 24 * 90


def _choice(choices, **kwargs) -> serializers.ChoiceField:
    allowed = ", ".join(str(c) for c in choices)
    return serializers.ChoiceField(
        choices=[str(c) for c in choices],
        error_messages={"invalid_choice": f'"{{input}}" is not allowed: use one of {allowed}.'},
        **kwargs,
    )


class GroupFilterSerializer(serializers.Serializer):
    """The query parameters of `GET /api/errors/groups/`."""

    service = serializers.CharField(required=False, help_text="Service name.")
    status = _choice(
        STATUS_FILTERS,
        required=False,
        help_text="active: active groups and ignored ones whose ignore period is over; "
        "ignored: groups ignored for good or until a later date; all when absent.",
    )
    severity = serializers.CharField(required=False, help_text="error, warning, info...")
    search = serializers.CharField(
        required=False,
        help_text="Text in the aggregation key, the error class or the message (any case).",
    )
    ordering = _choice(ORDERINGS, required=False, default="-last_seen")


class ErrorGroupSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="active, resolved or ignored; an ignore whose date has passed reads active."
    )
    url = serializers.SerializerMethodField(help_text="This group in the API.")

    class Meta:
        model = ErrorGroup
        fields = [
            "id", "service", "aggregation_key", "severity", "total_count", "first_seen",
            "last_seen", "status", "resolved_at", "ignored_until", "regression",
            "error_class", "message", "url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=GroupStatus.choices))
    def get_status(self, group) -> str:
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return group.effective_status(self.context["now"])

    def get_url(self, group) -> str:
        return self._url("group-detail", group)

    def _url(self, name, group) -> str:
        return reverse(
            f"{URL_NAMESPACE}:{name}", kwargs={"pk": group.pk}, request=self.context.get("request")
        )


class ErrorGroupDetailSerializer(ErrorGroupSerializer):
    occurrences_url = serializers.SerializerMethodField(help_text="Its occurrences, newest first.")
    counts_url = serializers.SerializerMethodField(help_text="Its counts per hour.")
    known_bugs = serializers.SerializerMethodField(
        help_text="Bugs about it: a whiteboard token errors:<service>/<key>, or an admin link."
    )

    class Meta(ErrorGroupSerializer.Meta):
        fields = [*ErrorGroupSerializer.Meta.fields, "occurrences_url", "counts_url", "known_bugs"]
        read_only_fields = fields

    @extend_schema_field(BugSerializer(many=True))
    def get_known_bugs(self, group) -> list:
        return buglist_for_error_group(group)

    def get_occurrences_url(self, group) -> str:
        return self._url("group-occurrences", group)

    def get_counts_url(self, group) -> str:
        return self._url("group-counts", group)


@extend_schema_field({"type": "object", "nullable": True})
class HttpContextField(serializers.Field):
    """The HTTP context as the reader may see it (`Occurrence.shown_http_context`):
    credential headers masked for everyone; the body for staff and API token
    holders, or for everyone with ERRORS_PUBLIC_BODIES (context `with_bodies`)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, occurrence):
        return occurrence.shown_http_context(self.context.get("with_bodies", False))


class OccurrenceSerializer(serializers.ModelSerializer):
    cause = serializers.JSONField(
        read_only=True,
        help_text="The chain of causes, outermost first: [{class, message, stacktrace}].",
    )
    http_context = HttpContextField(
        help_text="{request_method, request_url, request_headers, request_body}, or null; "
        "credential headers masked; the body for staff and API token holders only.",
    )
    stacktrace = serializers.JSONField(read_only=True, help_text="Lines, as the client sent them.")

    class Meta:
        model = Occurrence
        fields = [
            "uuid", "timestamp", "severity", "error_class", "message", "stacktrace", "cause",
            "http_context",
        ]
        read_only_fields = fields


class IgnoreSerializer(serializers.Serializer):
    """The optional body of `POST .../ignore/`."""

    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="ISO 8601; absent or null: ignored for good.",
    )

    def validate_until(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("It must be in the future.")
        return value


class CountsQuerySerializer(serializers.Serializer):
    hours = serializers.IntegerField(
        required=False,
        default=DEFAULT_HOURS,
        min_value=1,
        max_value=MAX_HOURS,
        help_text=f"How many hours back, the current one included (1 to {MAX_HOURS}).",
    )

    def window(self, now) -> tuple:
        """[start, end): whole hours, the current one the last."""
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return end - timedelta(hours=self.validated_data["hours"]), end


class HourCountSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(help_text="Start of the hour (UTC).")
    count = serializers.IntegerField(help_text="Occurrences added during that hour.")


class CountsSerializer(serializers.Serializer):
    hours = serializers.IntegerField()
    start = serializers.DateTimeField(help_text="Start of the first hour of the window.")
    end = serializers.DateTimeField(help_text="End of the window (exclusive): the next hour.")
    buckets = HourCountSerializer(
        many=True, help_text="Hours with occurrences only, oldest first; other hours are 0."
    )
