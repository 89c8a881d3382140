"""
The errors API for the dashboard and for scripts, under `/api/errors/`.

* `GET groups/`: error groups, filtered by `service`, `status`, `severity` and a text
  `search`, ordered by `ordering`, 50 a page (`?page_size=` up to 200);
* `GET groups/{id}/`: one group, with links to its occurrences and counts;
* `GET groups/{id}/occurrences/`: its stored occurrences, newest first, 20 a page;
* `GET groups/{id}/counts/?hours=N`: occurrences per hour over the last N hours;
* `POST groups/{id}/resolve/`, `unresolve/`, `ignore/` (`{"until": ISO}` optional).

Statuses: `?status=` filters on the effective status, `ErrorGroup.objects.with_status()`:
`active` is the active groups and the ignored ones whose `ignored_until` has passed,
`ignored` the groups still ignored, `resolved` the resolved ones; without `status`,
every group. A group whose ignore
period is over reads `"status": "active"` (the next scrape that counts errors of it
stores that too). An unknown `status` or `ordering` answers 400 listing the allowed
values; a `service` or `severity` nobody has gives an empty list.

Reads are open, like the rest of the read API, rate-limited per client IP for
anonymous readers (`errors.throttling`). Occurrences show credential headers
masked, to everyone, and request bodies only to staff and API token holders
(unless ERRORS_PUBLIC_BODIES): the rule is `Occurrence.shown_http_context`.
Mutations need a staff session
(CSRF enforced) or an API token (`Authorization: Token <key>`); without either they
answer 401. The views are thin: the rules live in `ErrorGroup`'s methods and
queryset, the validation in `errors.api.serializers`.
"""

from django.db.models import F, Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from errors.api import serializers
from errors.authentication import OptionalTokenAuthentication
from errors.models import ErrorGroup, HourlyCount, bodies_visible_to
from errors.throttling import THROTTLED, AnonymousReaders
from foundation.access import IsStaffOrToken
from foundation.api_schema import CREDENTIALS, field_errors, refusals


class GroupPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class OccurrencePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# Resolve, unresolve, ignore: token first, so that no credentials answers 401.
MUTATION = {
    "methods": ["post"],
    "authentication_classes": [TokenAuthentication, SessionAuthentication],
    "permission_classes": [IsStaffOrToken],
}


UNKNOWN_GROUP = {404: "No such group."}
# What the mutations answer: the group as it is now, or why not.
MUTATED = {
    200: serializers.ErrorGroupDetailSerializer,
    **refusals({**CREDENTIALS, **UNKNOWN_GROUP}),
}


@extend_schema_view(
    list=extend_schema(
        operation_id="errors_groups_list",
        parameters=[serializers.GroupFilterSerializer],
        description="Error groups, 50 a page. An unknown `status` or `ordering` is a 400.",
        responses={
            200: serializers.ErrorGroupSerializer(many=True),
            400: field_errors("An unknown `status` or `ordering`, listing the allowed values."),
            **refusals({404: "A page past the last one."}),
            **THROTTLED,
        },
    ),
    retrieve=extend_schema(
        operation_id="errors_groups_retrieve",
        responses={200: serializers.ErrorGroupDetailSerializer, **refusals(UNKNOWN_GROUP), **THROTTLED},
    ),
)
class GroupViewSet(viewsets.ReadOnlyModelViewSet):
    """Error groups: aggregated exceptions of a service, one per aggregation key."""

    # Reads are open (a session or a token only shows request bodies; CSRF is for
    # unsafe methods); mutations say otherwise below.
    authentication_classes = [OptionalTokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [AnonymousReaders]
    renderer_classes = [JSONRenderer]
    queryset = ErrorGroup.objects.select_related("service")
    pagination_class = GroupPagination
    lookup_value_converter = "int"

    def get_serializer_context(self):
        if self.request is None:  # the schema's generation
            return super().get_serializer_context()
        session = isinstance(self.request.successful_authenticator, SessionAuthentication)
        return {**super().get_serializer_context(),
                "with_bodies": bodies_visible_to(self.request.user, session=session)}

    def get_serializer_class(self):
        if self.serializer_class is not None:  # set by an action: occurrences, counts
            return self.serializer_class
        if self.action == "list":
            return serializers.ErrorGroupSerializer
        return serializers.ErrorGroupDetailSerializer

    def get_queryset(self):
        groups = super().get_queryset()
        if self.action != "list":
            return groups
        query = serializers.GroupFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return filter_groups(groups, **query.validated_data)

    @extend_schema(
        operation_id="errors_group_occurrences",
        responses={
            200: serializers.OccurrenceSerializer(many=True),
            **refusals({404: "No such group, or a page past the last one."}),
            **THROTTLED,
        },
    )
    @action(
        detail=True,
        serializer_class=serializers.OccurrenceSerializer,
        pagination_class=OccurrencePagination,
    )
    def occurrences(self, request, pk=None):
        """The stored occurrences of the group (at most ERRORS_MAX_OCCURRENCES), newest first."""
        occurrences = self.get_object().occurrences.order_by("-timestamp", "-pk")
        page = self.paginate_queryset(occurrences)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="errors_group_counts",
        parameters=[serializers.CountsQuerySerializer],
        responses={
            200: serializers.CountsSerializer,
            400: field_errors("`hours` out of range."),
            **refusals(UNKNOWN_GROUP),
            **THROTTLED,
        },
    )
    @action(detail=True, serializer_class=serializers.CountsSerializer, pagination_class=None)
    def counts(self, request, pk=None):
        """
        Occurrences added to the group per hour, over the last `hours` hours (default
        168, at most 2160), the current hour included.

        Only the hours that had occurrences are listed, oldest first, as
        `{hour, count}`; every other hour of the window `[start, end)` counted 0, so a
        chart fills them in. `end` is the end of the current hour.
        """
        group = self.get_object()
        query = serializers.CountsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.window(timezone.now())
        buckets = HourlyCount.objects.filter(group=group, hour__gte=start, hour__lt=end)
        document = {
            "hours": query.validated_data["hours"],
            "start": start,
            "end": end,
            "buckets": buckets.order_by("hour").values("hour", "count"),
        }
        return Response(serializers.CountsSerializer(document).data)

    @extend_schema(operation_id="errors_group_resolve", request=None, responses=MUTATED)
    @action(detail=True, **MUTATION)
    def resolve(self, request, pk=None):
        """Resolve: hidden from the active list until it happens again (a regression)."""
        group = self.get_object()
        group.resolve()
        return self._group(group)

    @extend_schema(operation_id="errors_group_unresolve", request=None, responses=MUTATED)
    @action(detail=True, **MUTATION)
    def unresolve(self, request, pk=None):
        """Back to active, whether it was resolved or ignored."""
        group = self.get_object()
        group.unresolve()
        return self._group(group)

    @extend_schema(
        operation_id="errors_group_ignore",
        request=serializers.IgnoreSerializer,
        responses={**MUTATED, 400: field_errors("`until` is not a date to come.")},
    )
    @action(detail=True, **MUTATION)
    def ignore(self, request, pk=None):
        """Ignore for good, or until `until` (ISO 8601, in the future)."""
        group = self.get_object()
        body = serializers.IgnoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group.ignore(body.validated_data["until"])
        return self._group(group)

    def _group(self, group) -> Response:
        context = self.get_serializer_context()
        return Response(serializers.ErrorGroupDetailSerializer(group, context=context).data)


def filter_groups(groups, service=None, status=None, severity=None, search=None,
                  ordering="-last_seen", now=None):
    """The groups matching the list's query parameters, in a stable order."""
    now = now or timezone.now()
    if service:
        groups = groups.filter(service__name=service)
    groups = groups.with_status(status or None, now)
    if severity:
        groups = groups.filter(severity=severity)
    if search:
        groups = groups.filter(
            Q(aggregation_key__icontains=search)
            | Q(error_class__icontains=search)
            | Q(message__icontains=search)
        )
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    if descending:
        return groups.order_by(F(field).desc(nulls_last=True), "-pk")
    return groups.order_by(F(field).asc(nulls_last=True), "pk")
