"""
Channels and maintenance windows through the API, under `/api/notifications/`:

* `channels/`: list, create, read, change (PATCH), delete; staff or token for all
  (a channel says where alerts go); the URL is written, never read back;
* `windows/`: list and read are open, as the checks are; create, change (PATCH),
  delete need staff or token. A silence is a window with a `duration` and no
  `ends_at`: from now (or `starts_at`) for that long.

A bad body answers 400 with the model's messages by field (an unknown check, tag,
project or service included).
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer

from foundation.access import IsStaffOrToken
from foundation.api_schema import CREDENTIALS, field_errors, refusals
from notifications.api.serializers import ChannelSerializer, MaintenanceWindowSerializer
from notifications.models import Channel, MaintenanceWindow

UNKNOWN = {404: "No such item."}
INVALID = {400: field_errors("Invalid fields, by field.")}


def _schema(prefix: str, serializer, open_reads: bool):
    reads = {} if open_reads else CREDENTIALS
    return extend_schema_view(
        list=extend_schema(operation_id=f"{prefix}_list",
                           responses={200: serializer(many=True), **refusals(reads)}),
        retrieve=extend_schema(operation_id=f"{prefix}_retrieve",
                               responses={200: serializer, **refusals({**reads, **UNKNOWN})}),
        create=extend_schema(operation_id=f"{prefix}_create",
                             responses={201: serializer, **INVALID, **refusals(CREDENTIALS)}),
        partial_update=extend_schema(
            operation_id=f"{prefix}_update",
            responses={200: serializer, **INVALID, **refusals({**CREDENTIALS, **UNKNOWN})},
        ),
        destroy=extend_schema(operation_id=f"{prefix}_destroy",
                              responses={204: None, **refusals({**CREDENTIALS, **UNKNOWN})}),
    )


class _Managed(viewsets.ModelViewSet):
    # Token first: a request without credentials answers 401, not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrToken]
    renderer_classes = [JSONRenderer]
    # JSON only: lists (scopes, recipients) have no one form encoding, and a form
    # body some clients send chunked is one the development server cannot read.
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_converter = "int"
    open_reads = False

    def get_authenticators(self):
        # Open reads read no credentials (a stale token is no 401 on a public list).
        # Called before the action is known: the method tells (no request: the schema).
        method = getattr(getattr(self, "request", None), "method", None)
        if self.open_reads and method in ("GET", "HEAD", "OPTIONS"):
            return []
        return super().get_authenticators()

    def get_permissions(self):
        if self.open_reads and self.action in ("list", "retrieve"):
            return [AllowAny()]
        return super().get_permissions()


@_schema("notifications_channels", ChannelSerializer, open_reads=False)
class ChannelViewSet(_Managed):
    """Where alerts go: webhook, email, Slack, Teams, Alertmanager."""

    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer


@_schema("notifications_windows", MaintenanceWindowSerializer, open_reads=True)
class MaintenanceWindowViewSet(_Managed):
    """Maintenance windows and silences: while one is open, what it covers alerts nobody."""

    queryset = MaintenanceWindow.objects.all()
    serializer_class = MaintenanceWindowSerializer
    open_reads = True

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user.get_username())
