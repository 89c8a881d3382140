"""
Telescope's HTTP API, unchanged for the monitors that poll it.

`GET /checks` describes every check without running any; `/checks/{project}`,
`/checks/{project}/{name}` and `/checks/tags/{tag}[+{tag}...]` run them (through
the cache; in the distributed mode on the workers, see `audits.answers`) and answer 200 when every check passed, 503 when one failed and 500 when
one crashed, so that a monitor can tell a broken check from a failing system.
`Accept: text/plain` gives Telescope's human table; no `Accept` gives JSON; any
other type gives 406.

The checks are read from this process's copy (`audits.definitions`): no query
finds them. A check whose result is cached is answered from its cached answer
(`audits.api.cached`, registered with `foundation.middleware`) before the URL is
even resolved.
"""

import functools
import hmac

from django.conf import settings
from django.shortcuts import redirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from audits import answers, checkmodules, definitions, history, params, tasks
from audits.api import cached, serializers
from audits.api.negotiation import AlwaysJSON, TelescopeNegotiation
from audits.api.renderers import PlainTextRenderer
from audits.models import Check, prefetch_parents
from bugtracker.matching import buglists_for_checks
from foundation.access import IsStaffOrToken
from foundation.api_schema import CREDENTIALS, refusals
from foundation.background import enqueue

REFRESH_DISABLED = (
    "Refresh is disabled: set the REFRESH_SECRET environment variable of the "
    "service, then call ?refresh=<that secret>."
)

class PublicView(APIView):
    """Read-only endpoints for monitors: no session, no CSRF, no login."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, PlainTextRenderer]
    content_negotiation_class = TelescopeNegotiation


class RootView(PublicView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        operation_id="hello",
        responses={
            200: serializers.HelloSerializer,
            302: OpenApiResponse(description="Browsers (Accept: text/html) go to the dashboard."),
        },
    )
    def get(self, request):
        """Who this service is, and the settings Telescope's UI reads."""
        if "text/html" in request.headers.get("Accept", ""):
            return redirect("/dashboard/")
        return Response(
            {
                "hello": "telescope",
                "service": settings.SERVICE_NAME,
                "title": settings.SERVICE_TITLE,
                "environment": settings.ENV_NAME or None,
                "settings": _public_settings(),
            }
        )


class CheckListView(PublicView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(operation_id="list_checks", responses=serializers.CheckInfoSerializer(many=True))
    def get(self, request):
        """Every enabled check, described; nothing is run."""
        return Response([_info(check) for check in definitions.current().checks])


class AnsweringView(PublicView):
    """An endpoint that runs checks, whose JSON answers are kept for the next
    request when their results were cached (`audits.api.cached`)."""

    def dispatch(self, request, *args, **kwargs):
        self.keep = None  # set by the handler: keep(response), once DRF rendered it
        response = super().dispatch(request, *args, **kwargs)
        if self.keep is not None:
            self.keep(response)
        return response

    def answer_many(self, request, scope, known: definitions.Definitions, checks):
        """The answer of `checks` (a project's, or the tags', from the checks
        `known`): the kept one, else from their results, then kept."""
        version = known.version
        kept = cached.answer_many(request, scope, version)
        if kept is not None:
            return kept
        read_generations = cached.generations(scope)
        results = answers.results(checks)
        self.keep = functools.partial(
            cached.keep_many, request, scope=scope, version=version,
            read_generations=read_generations, checks=checks, results=results,
        )
        return _results_response(checks, results)


class ProjectChecksView(AnsweringView):
    @extend_schema(
        operation_id="run_project",
        parameters=[serializers.NO_FORMAT],
        responses=serializers.run_responses(
            serializers.CheckResultSerializer(many=True), {404: "No enabled check in that project."}
        ),
    )
    def get(self, request, project):
        """Run every check of a project; 200 if all passed, 503 if not."""
        known = definitions.current()
        checks = known.project(project)
        if not checks:
            raise NotFound(f"Unknown project {project!r}.")
        return self.answer_many(request, cached.project_scope(project), known, checks)


class TagChecksView(AnsweringView):
    @extend_schema(
        operation_id="run_tags",
        parameters=[serializers.NO_FORMAT],
        responses=serializers.run_responses(
            serializers.CheckResultSerializer(many=True), {404: "No enabled check has the tags."}
        ),
    )
    def get(self, request, tags):
        """Run every check that has all the tags (`a+b` means a AND b)."""
        names = [t for t in tags.split("+") if t]
        known = definitions.current()
        checks = known.with_tags(names) if names else []
        if not checks:
            raise NotFound(f"No check has all the tags {' + '.join(names)!r}.")
        return self.answer_many(request, cached.tags_scope(names), known, checks)


class CheckDetailView(AnsweringView):
    """Its kept answers are answered by the middleware, before the URL is resolved
    (`audits.api.cached.answer`)."""

    @extend_schema(
        operation_id="run_check",
        responses=serializers.run_responses(serializers.CheckResultSerializer, {
            400: "A wrong refresh secret, or a URL parameter of the wrong type.",
            403: "?refresh= while REFRESH_SECRET is not set.",
            404: "No such enabled check.",
        }),
        parameters=[
            serializers.NO_FORMAT,
            OpenApiParameter("refresh", str, description="REFRESH_SECRET: run now"),
        ],
    )
    def get(self, request, project, name):
        """
        Run one check. `?refresh=<secret>` runs it even when cached. The module's
        URL_PARAMETERS may be given in the query string, as `?limit=5`.
        """
        known = definitions.current()
        check = _get_check(project, name, known)
        refused = _refuse_refresh(request.query_params.get("refresh"))
        if refused:
            return refused
        try:
            overrides = _url_overrides(check, request.query_params)
        except params.ParamError as exc:
            return Response({"detail": str(exc)}, status=400)
        force = "refresh" in request.query_params
        result = answers.result(check, force=force, overrides=overrides)
        self.keep = functools.partial(
            cached.keep, request, version=known.version, check=check, result=result
        )
        return _results_response([check], [result], single=True, overrides=overrides)


class CheckHistoryView(PublicView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        operation_id="check_history",
        responses={
            200: serializers.HistoryPointSerializer(many=True),
            **refusals({404: "No such enabled check."}),
        },
    )
    def get(self, request, project, name):
        """The check's runs over HISTORY_DAYS: `{t, success, scalar}`, equal neighbours folded."""
        check = _get_check(project, name)
        return Response(history.series([check])[check.pk])


class ProjectUptimeView(PublicView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        operation_id="project_uptime",
        responses={
            200: serializers.UptimeSerializer,
            **refusals({404: "No enabled check in that project."}),
        },
    )
    def get(self, request, project):
        """Percentage of passing runs of a project's checks over 24 h, 7 d and 30 d."""
        checks = definitions.current().project(project)
        if not checks:
            raise NotFound(f"Unknown project {project!r}.")
        return Response(history.uptime(checks))


class CheckUptimeView(PublicView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        operation_id="check_uptime",
        responses={200: serializers.UptimeSerializer, **refusals({404: "No such enabled check."})},
    )
    def get(self, request, project, name):
        """Percentage of passing runs of a check over 24 h, 7 d and 30 d."""
        return Response(history.uptime([_get_check(project, name)]))


class CheckRunsView(APIView):
    """Queue a run now: for staff sessions (with CSRF) and API tokens."""

    # Token first, so that a missing or wrong token answers 401 with WWW-Authenticate.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrToken]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        operation_id="queue_run",
        request=None,
        responses={
            202: serializers.QueuedSerializer,
            **refusals({
                **CREDENTIALS,
                404: "No such enabled check.",
                503: "The task queue is unavailable: try again.",
            }),
        },
    )
    def post(self, request, project, name):
        """Run the check now, in the background; its result replaces the cached one."""
        check = _get_check(project, name)
        try:
            enqueue(tasks.run_check, check.pk)
        except Exception as exc:  # the broker is down: say so instead of a 500
            detail = f"The task queue is unavailable ({type(exc).__name__}); try again."
            return Response({"detail": detail}, status=503)
        body = {
            "detail": f"A run of {check} is queued.",
            "check": check.get_absolute_url(),
            "history": f"{check.get_absolute_url()}/history",
        }
        return Response(body, status=202, headers={"Location": body["check"]})


def _get_check(project: str, name: str, known: definitions.Definitions | None = None) -> Check:
    check = (known or definitions.current()).check(project, name)
    if check is None:
        raise NotFound(f"Unknown check {project}/{name}.")
    return check


def _info(check: Check, overrides: dict | None = None) -> dict:
    """The check's description, derived once per version unless `overrides` change it."""
    if overrides:
        return check.get_info(overrides)
    return definitions.memoized(check, "info", check.get_info)


def _results_response(checks, results, single=False, overrides=None) -> Response:
    points = history.series(checks)
    bugs = buglists_for_checks(checks)  # one query for all the checks
    # The parents' states as they are now, after the runs (one query, and none when
    # every check passed: only a failing check can be blocked); the results of this
    # answer are newer than any stored one.
    outcomes = {check.pk: result.success for check, result in zip(checks, results)}
    failing = [check for check, result in zip(checks, results) if not result.success]
    if failing:
        prefetch_parents(failing, outcomes)
    quiet = Check.in_maintenance_each(checks)  # from the cache: no query
    payload = [
        {
            **_info(check, overrides),
            **result.as_dict(),
            "blocked_by": _key_or_none(check.blocked_by(result.success, outcomes)),
            "buglist": bugs[check.pk],
            "history": points[check.pk],
            **({"maintenance": True} if in_maintenance else {}),
        }
        for check, result, in_maintenance in zip(checks, results, quiet)
    ]
    counted = [r for r, q in zip(results, quiet) if not Check.answers_passing(q)]
    response = Response(payload[0] if single else payload, status=_status_of(counted))
    # A failing or crashed check is the answer asked for, logged already as its
    # check.result line, not an error of this server: no django.request ERROR line
    # for it (Django skips a response marked so). Exceptions are still logged.
    response._has_been_logged = True
    return response


def _key_or_none(check: Check | None) -> str | None:
    return check.key if check else None


def _status_of(results) -> int:
    if any(r.crashed for r in results):
        return 500
    return 200 if all(r.success for r in results) else 503


def _refuse_refresh(secret: str | None) -> Response | None:
    """The response refusing `?refresh=`, or None when it is allowed or absent."""
    if secret is None:
        return None
    if not settings.REFRESH_SECRET:
        return Response({"detail": REFRESH_DISABLED}, status=403)
    if not hmac.compare_digest(secret.encode(), settings.REFRESH_SECRET.encode()):
        # Telescope's UI matches this reason phrase to forget its stored secret.
        response = Response({"detail": "Invalid refresh secret"}, status=400)
        response.reason_phrase = "Invalid refresh secret"
        return response
    return None


def _url_overrides(check: Check, query) -> dict:
    """Values of the module's URL_PARAMETERS given in the query string, cast."""
    try:
        module = check.check_module
    except checkmodules.ModuleError:
        return {}  # the run reports why the module cannot be used
    overrides = {}
    for name in module.url_parameters:
        if name not in query or name not in module.parameters:
            continue
        annotation = module.parameters[name].annotation
        raw = query.getlist(name) if _is_list(annotation) else query[name]
        overrides[name] = params.cast(raw, annotation, f"?{name}")
    return overrides


def _is_list(annotation) -> bool:
    return annotation is list or getattr(annotation, "__origin__", None) is list


def _public_settings() -> dict:
    return {
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "cache_lock_enabled": settings.CACHE_LOCK_ENABLED,
        "limit_requests_concurrency": settings.LIMIT_REQUEST_CONCURRENCY,
        "limit_global_concurrency": settings.LIMIT_GLOBAL_CONCURRENCY,
        "request_max_retries": settings.REQUESTS_MAX_RETRIES,
        "request_timeout_seconds": settings.REQUESTS_TIMEOUT_SECONDS,
        "client_parallel_requests": settings.LIMIT_REQUEST_CONCURRENCY,
    }
