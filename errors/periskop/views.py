"""
Periskop's HTTP API, byte-compatible, so its UI and its alert links keep working.

* `GET /services/`: the service names;
* `GET /services/{service}/errors/`: the active error groups in Periskop's JSON
  (timestamps and `created_at` as integer epoch seconds, at most 100 occurrences
  each), rendered once after each change and served as stored bytes
  (`errors.periskop.answers`); credential headers masked, request bodies for
  staff and API token holders only (unless `ERRORS_PUBLIC_BODIES=true`);
* `DELETE /services/{service}/errors/{key}/`: resolve (the key may hold any
  character, `/` included); 204. Like every mutation it needs a staff session or
  an API token, unless `ERRORS_ANONYMOUS_RESOLVE=true` restores Periskop's open
  behaviour;
* `POST /services/{service}/push/` (also `.../push/errors`, where
  periskop-client's `push_to_gateway(".../push")` posts), optionally grouped as
  the Prometheus pushgateway groups, `.../push/job/{job}[/instance/{instance}]/`:
  a client payload from a batch job. Its identity is its `target_uuid`, else its
  job and instance: two jobs never share a counter, and pushing the same payload
  twice counts once. A body that is not a payload answers 400 saying why, one
  over `ERRORS_MAX_BODY_BYTES` 413;
* `GET /targets/`: what discovery found, with each target's scrape status, its
  labels before relabelling (`discovered_labels`) and after (`labels`) and the URL
  scraped, as Prometheus's `/api/v1/targets` shows them; `?state=dropped` lists
  instead the targets relabelling dropped (their `discovered_labels`), `?state=any`
  both, as Prometheus's `state` parameter. Periskop's UI reads `endpoint` only;
* `GET /-/health`: `OK`.

An unknown service answers 404 in plain text, as Periskop does
(`service <name> not found`). Anonymous reads are rate-limited per client IP
(`errors.throttling`).
"""

import re

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from errors import aggregation, payload
from errors.authentication import BasicTokenAuthentication, OptionalTokenAuthentication
from errors.models import ErrorGroup, PeriskopAnswer, Service, bodies_visible_to
from errors.periskop import answers, serializers
from errors.throttling import THROTTLED, AnonymousReaders
from foundation.access import IsStaffOrToken
from foundation.api_schema import CREDENTIALS, refusals

# As Django's GZipMiddleware reads Accept-Encoding.
ACCEPTS_GZIP = re.compile(r"\bgzip\b")
# Periskop's own answers to what it does not know: plain text, as Go's http.Error.
UNKNOWN_SERVICE = "service {name} not found\n"
UNKNOWN_KEY = "404 page not found\n"


def _text_404(description: str) -> dict:
    """Periskop's plain-text 404; a path holding NUL is refused before any view, in
    JSON (`foundation.middleware`), as it names nothing."""
    return {
        (404, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=description),
        **refusals({404: f"{description} A path holding NUL names nothing."}),
    }


def _not_found(text: str) -> HttpResponse:
    return HttpResponse(text, status=404, content_type="text/plain; charset=utf-8")


def _unknown_service(name: str) -> HttpResponse:
    return _not_found(UNKNOWN_SERVICE.format(name=name))


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class RawJSONParser(BaseParser):
    """Client payloads arrive with any Content-Type (requests sends none). The body
    is read up to ERRORS_MAX_BODY_BYTES: more answers 413, without reading it all."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        cap = settings.ERRORS_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > cap:
            raise PayloadTooLarge(_too_large(int(declared)))
        body = stream.read(cap + 1)
        if len(body) > cap:
            raise PayloadTooLarge(_too_large(None))
        return body


def _too_large(size: int | None) -> str:
    given = f"{size} bytes" if size is not None else "more"
    return f"The payload is too large: {given}, where ERRORS_MAX_BODY_BYTES allows {settings.ERRORS_MAX_BODY_BYTES}."


class PeriskopView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes = [AnonymousReaders]


class ServicesView(PeriskopView):
    @extend_schema(operation_id="periskop_services", responses={200: list[str], **THROTTLED})
    def get(self, request):
        """Names of the services (Periskop)."""
        return Response(sorted(Service.objects.values_list("name", flat=True)))


class ServiceErrorsView(PeriskopView):
    # Who may read request bodies: staff sessions and API tokens.
    authentication_classes = [OptionalTokenAuthentication, SessionAuthentication]

    @extend_schema(
        operation_id="periskop_errors",
        responses={
            200: serializers.PeriskopGroupSerializer(many=True),
            **_text_404("No such service (plain text, as Periskop)."),
            **THROTTLED,
        },
    )
    def get(self, request, service):
        """The active error groups of a service, in Periskop's shape."""
        session = isinstance(request.successful_authenticator, SessionAuthentication)
        gzipped = bool(ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
        body = answers.answer_for(service, bodies_visible_to(request.user, session=session), gzipped)
        if body is None:
            return _unknown_service(service)
        response = HttpResponse(body, content_type="application/json")
        response["Vary"] = "Accept-Encoding"
        if gzipped:
            response["Content-Encoding"] = "gzip"
        return response


class ResolveView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]

    def get_permissions(self):
        anonymous = settings.ERRORS_ANONYMOUS_RESOLVE
        return [AllowAny()] if anonymous else [IsStaffOrToken()]

    @extend_schema(
        operation_id="periskop_resolve",
        responses={
            204: None,
            **refusals(CREDENTIALS),
            **_text_404("No such service or key (plain text, as Periskop)."),
        },
    )
    def delete(self, request, service, key):
        """Resolve an error group (Periskop)."""
        found = Service.objects.filter(name=service).first()
        if found is None:
            return _unknown_service(service)
        group = ErrorGroup.objects.filter(service=found, aggregation_key=key).first()
        if group is None:
            return _not_found(UNKNOWN_KEY)
        group.resolve()
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
                413: "Over ERRORS_MAX_BODY_BYTES.",
            }),
            **_text_404("No such service: declare it first (admin or import_config)."),
        },
    )
    def post(self, request, service, job="", instance=""):
        """Merge a client payload pushed by a batch job; the same payload twice counts once."""
        found = Service.objects.filter(name=service).first()
        if found is None:
            return _not_found(
                UNKNOWN_SERVICE.format(name=service).rstrip("\n")
                + ": declare the service before pushing to it (admin, or import_config)\n"
            )
        data = request.data
        try:
            pushed = payload.decode(data if isinstance(data, bytes) else b"")
        except payload.PayloadError as exc:
            return Response({"detail": f"Not a Periskop payload: {exc}"}, status=400)
        merged = aggregation.ingest(found, pushed, push_identity(pushed, job, instance))
        if merged.increment or merged.new_occurrences or merged.new_groups:
            # Rendered by the next reader, once: a busy batch job pushing often
            # must not pay a whole service's rendering at each push.
            PeriskopAnswer.invalidate(found.pk)
        return Response({"increment": merged.increment, "new_occurrences": merged.new_occurrences})


def push_identity(pushed: payload.Payload, job: str, instance: str) -> str:
    """The identity a push's counts are kept under: its `target_uuid` (one per
    client process), else its job and instance, as the pushgateways key pushes,
    so that batch jobs without a uuid never share a counter."""
    return pushed.target_uuid or f"push:job={job}/instance={instance}"


class ClientPushView(PushView):
    """Where periskop-client's `push_to_gateway(".../push")` posts: `.../push/errors`,
    and the same under a job (and instance) grouping."""

    @extend_schema(exclude=True)  # the same operation as PushView
    def post(self, request, service, job="", instance=""):
        return super().post(request, service, job, instance)


class TargetsView(PeriskopView):
    @extend_schema(
        operation_id="periskop_targets",
        parameters=[serializers.TARGET_STATE],
        responses={200: serializers.TARGETS, **refusals({400: "An unknown state."}), **THROTTLED},
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
