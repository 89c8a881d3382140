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
