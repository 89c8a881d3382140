"""
The JSON shapes of channels and maintenance windows, validated by the models' own
rules (`clean()`): the API refuses what the admin refuses, with the same words.
"""

from django.core.exceptions import ValidationError as ModelValidationError
from django.utils import timezone
from rest_framework import serializers

from notifications.models import Channel, MaintenanceWindow

def names() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), required=False)


class ModelRulesSerializer(serializers.ModelSerializer):
    """Runs the model's `clean()` on the instance as it would be saved."""

    def validate(self, attrs):
        instance = self.Meta.model(**{**self._current(), **attrs})
        try:
            instance.clean()
        except ModelValidationError as exc:
            problems = exc.update_error_dict({})
            problems["non_field_errors"] = problems.pop("__all__", [])
            raise serializers.ValidationError({k: v for k, v in problems.items() if v}) from None
        # clean() may fill fields in (a silence's end): keep what it decided.
        return {**attrs, **{f: getattr(instance, f) for f in self.Meta.filled_by_clean}}

    def _current(self) -> dict:
        if self.instance is None:
            return {}
        return {f: getattr(self.instance, f) for f in self.Meta.fields if f not in self.Meta.read_only_fields}


class ChannelSerializer(ModelRulesSerializer):
    projects = names()
    services = names()
    recipients = names()

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "url", "recipients", "is_default", "projects",
                  "services", "enabled"]
        read_only_fields = ["id"]
        # The URL may hold a token (Slack's and Teams' do): written, never read back.
        extra_kwargs = {"url": {"write_only": True}}
        filled_by_clean = []


class MaintenanceWindowSerializer(ModelRulesSerializer):
    checks = names()
    tags = names()
    projects = names()
    services = names()
    active = serializers.SerializerMethodField(help_text="Open now.")

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "name", "starts_at", "ends_at", "crontab", "duration", "checks", "tags",
                  "projects", "services", "created_by", "active"]
        read_only_fields = ["id", "created_by", "active"]
        filled_by_clean = ["starts_at", "ends_at"]

    def get_active(self, window) -> bool:
        return window.is_active(timezone.now())
