"""
The shapes of Telescope's JSON documents, for the OpenAPI schema at /api/schema/.

The views build these documents directly (they are on the hot path); these
serializers describe them field by field for API users and client generators.
"""

from rest_framework import serializers


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
    environment = serializers.CharField()
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


class CheckResultSerializer(CheckInfoSerializer):
    datetime = serializers.DateTimeField(help_text="When the run started (UTC).")
    duration = serializers.IntegerField(help_text="Milliseconds.")
    success = serializers.BooleanField()
    data = serializers.JSONField()
    buglist = serializers.ListField(child=serializers.DictField())
    history = serializers.ListField(child=serializers.DictField())


class HistoryPointSerializer(serializers.Serializer):
    t = serializers.CharField(help_text="UTC, YYYY-MM-DD HH:MM:SS.")
    success = serializers.BooleanField()
    scalar = serializers.FloatField(allow_null=True, help_text="The plotted value.")


class UptimeSerializer(serializers.Serializer):
    _help = "Percentage of passing runs; null when there was no run."
    h24 = serializers.FloatField(source="24h", allow_null=True, help_text=_help)
    d7 = serializers.FloatField(source="7d", allow_null=True, help_text=_help)
    d30 = serializers.FloatField(source="30d", allow_null=True, help_text=_help)


class QueuedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    check = serializers.CharField(help_text="Where the result will be served.")
    history = serializers.CharField(help_text="Where the run will appear.")
