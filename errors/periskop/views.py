"""
Periskop's HTTP API, byte-compatible, so its UI and its alert links keep working.

* `GET /services/`: the service names;
* `GET /services/{service}/errors/`: the active error groups in Periskop's JSON
  (timestamps and `created_at` as integer epoch seconds, at most 100 occurrences
  each), 404 for an unknown service;
* `DELETE /services/{service}/errors/{key}/`: resolve (the key may hold any
  character, `/` included); 204, or 404 for an unknown service or key. Like every
  mutation it needs a staff session or an API token, unless
  `ERRORS_ANONYMOUS_RESOLVE=true` restores Periskop's open behaviour;
* `POST /services/{service}/push/` (also `.../push/errors`, where
  periskop-client's `push_to_gateway(".../push")` posts): a client payload from a
  batch job; pushing it twice counts once;
* `GET /targets/`: what discovery found, with each target's scrape status, its
  labels before relabelling (`discovered_labels`) and after (`labels`) and the URL
  scraped, as Prometheus's `/api/v1/targets` shows them; `?state=dropped` lists
  instead the targets relabelling dropped (their `discovered_labels`), `?state=any`
  both, as Prometheus's `state` parameter. Periskop's UI reads `endpoint` only;
* `GET /-/health`: `OK`.
"""

import json

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from errors import aggregation, payload
from errors.authentication import BasicTokenAuthentication
from errors.models import ErrorGroup, Service
from errors.periskop import serializers
from foundation.access import IsStaffOrToken
from foundation.api_schema import CREDENTIALS, refusals

MAX_OCCURRENCES = 100


class RawJSONParser(BaseParser):
    """Client payloads arrive with any Content-Type (requests sends none)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class PeriskopView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]


class ServicesView(PeriskopView):
    @extend_schema(operation_id="periskop_services", responses=list[str])
    def get(self, request):
        """Names of the services (Periskop)."""
        return Response(sorted(Service.objects.values_list("name", flat=True)))


class ServiceErrorsView(PeriskopView):
    @extend_schema(
        operation_id="periskop_errors",
        responses={
            200: serializers.PeriskopGroupSerializer(many=True),
            **refusals({404: "No such service."}),
        },
    )
    def get(self, request, service):
        """The active error groups of a service, in Periskop's shape."""
        service = get_object_or_404(Service, name=service)
        groups = (
            ErrorGroup.objects.active().filter(service=service)
            .order_by("-last_seen").prefetch_related("occurrences")
        )
        return Response([periskop_group(group) for group in groups])


class ResolveView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]

    def get_permissions(self):
        anonymous = settings.ERRORS_ANONYMOUS_RESOLVE
        return [AllowAny()] if anonymous else [IsStaffOrToken()]

    @extend_schema(
        operation_id="periskop_resolve",
        responses={204: None, **refusals({**CREDENTIALS, 404: "No such service or key."})},
    )
    def delete(self, request, service, key):
        """Resolve an error group (Periskop)."""
        service = get_object_or_404(Service, name=service)
        get_object_or_404(ErrorGroup, service=service, aggregation_key=key).resolve()
        return Response(status=204)


class PushView(APIView):
    authentication_classes = [TokenAuthentication, BasicTokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrToken]
    parser_classes = [RawJSONParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="periskop_push",
        request=OpenApiTypes.OBJECT,
        responses={
            200: serializers.PushedSerializer,
            **refusals({
                400: "Not a Periskop payload (the detail says where).",
                **CREDENTIALS,
                404: "No such service.",
            }),
        },
    )
    def post(self, request, service):
        """Merge a client payload pushed by a batch job; the same payload twice counts once."""
        service = get_object_or_404(Service, name=service)
        try:
            pushed = payload.parse(json.loads(request.data))
        except (ValueError, payload.PayloadError) as exc:
            return Response({"detail": f"Not a Periskop payload: {exc}"}, status=400)
        merged = aggregation.ingest(service, pushed, f"push:{service.name}")
        return Response({"increment": merged.increment, "new_occurrences": merged.new_occurrences})


class ClientPushView(PushView):
    """Where periskop-client's `push_to_gateway(".../push")` posts: `.../push/errors`."""

    @extend_schema(exclude=True)  # the same operation as PushView
    def post(self, request, service):
        return super().post(request, service)


class TargetsView(PeriskopView):
    @extend_schema(
        operation_id="periskop_targets",
        parameters=[serializers.TARGET_STATE],
        responses={200: serializers.TARGETS, **refusals({400: "An unknown state."})},
    )
    def get(self, request):
        """The targets discovered for each service, with their scrape status; with
        `?state=dropped` (or `any`) the targets relabelling dropped."""
        state = request.query_params.get("state", "active")
        if state not in ("active", "dropped", "any"):
            return Response({"detail": "state must be active, dropped or any"}, status=400)
        answer: dict[str, list] = {}
        for service in Service.objects.prefetch_related("targets"):
            active = [_target(service, t) for t in service.targets.all()]
            dropped = [_dropped(labels) for labels in service.dropped_targets]
            answer[service.name] = {"active": active, "dropped": dropped, "any": active + dropped}[state]
        return Response(answer)


def health(request):
    return HttpResponse("OK", content_type="text/plain")


def periskop_group(group: ErrorGroup) -> dict:
    occurrences = list(group.occurrences.all())[:MAX_OCCURRENCES]
    return {
        "aggregation_key": group.aggregation_key,
        "total_count": group.total_count,
        "severity": group.severity,
        "latest_errors": [_occurrence(o) for o in occurrences],
        "created_at": _epoch(group.first_seen),
    }


def _occurrence(occurrence) -> dict:
    return {
        "error": _error(
            occurrence.error_class, occurrence.message, occurrence.stacktrace, occurrence.cause or []
        ),
        "uuid": occurrence.uuid,
        "timestamp": _epoch(occurrence.timestamp),
        "severity": occurrence.severity,
        "http_context": occurrence.http_context,
    }


def _error(error_class, message, stacktrace, causes: list[dict]) -> dict:
    """Periskop's nested `cause`, rebuilt from the stored chain."""
    cause = None
    if causes:
        first, *rest = causes
        cause = _error(first["class"], first["message"], first["stacktrace"], rest)
    return {"class": error_class, "message": message, "stacktrace": stacktrace, "cause": cause}


def _target(service, target) -> dict:
    return {
        "endpoint": target.url.partition("://")[2],  # Periskop's: address and path
        "status": target.status,
        "labels": target.labels,
        "discovered_labels": target.discovered_labels,
        "scrape_url": target.url,
        "last_scrape": target.last_scrape_at.isoformat() if target.last_scrape_at else None,
        "duration": target.duration,
        "last_error": target.last_error,
    }


def _dropped(discovered_labels: dict) -> dict:
    return {"status": "dropped", "discovered_labels": discovered_labels}


def _epoch(moment) -> int:
    return int(moment.timestamp()) if moment else 0
