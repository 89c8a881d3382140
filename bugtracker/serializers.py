"""The JSON shape of a known bug in check results (`buglist`) and error groups."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.ANY)
class BugIdField(serializers.Field):
    """Bugzilla's number; a manual bug's reference (a string unless it is a number)."""

    def to_representation(self, value):
        return value


class BugSerializer(serializers.Serializer):
    """One entry of Telescope's `buglist`; built by `bugtracker.matching`."""

    id = BugIdField()
    summary = serializers.CharField(help_text='"" for a confidential bug.')
    open = serializers.BooleanField()
    status = serializers.CharField()
    last_update = serializers.DateTimeField(allow_null=True, help_text="Last change, UTC.")
    heat = serializers.ChoiceField(
        choices=["hot", "cold", ""],
        help_text="hot: changed in the last 240 hours; cold: not changed for 720 hours.",
    )
    url = serializers.CharField(help_text="BUGTRACKER_URL/id, or the manual bug's URL.")
