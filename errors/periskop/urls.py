"""Periskop's routes (its API, push, health) and this service's own /errors."""

from django.urls import path, re_path

from errors.periskop import self_report
from errors.periskop import views as periskop

urlpatterns = [
    path("services/", periskop.ServicesView.as_view(), name="periskop-services"),
    path("services/<str:service>/errors/", periskop.ServiceErrorsView.as_view(), name="periskop-errors"),
    # Keys may hold any character, "/" and newlines included: everything up to the
    # final slash.
    re_path(
        r"^services/(?P<service>[^/]+)/errors/(?P<key>[\s\S]+)/$",
        periskop.ResolveView.as_view(),
        name="periskop-resolve",
    ),
    path("services/<str:service>/push/", periskop.PushView.as_view(), name="periskop-push"),
    path("services/<str:service>/push/errors", periskop.ClientPushView.as_view()),
    # Grouped as the Prometheus pushgateway groups: .../push/job/<job>[/instance/<i>]/
    # (and the client's `push_to_gateway` adds "errors" after it).
    re_path(
        r"^services/(?P<service>[^/]+)/push/job/(?P<job>[^/]+)(?:/instance/(?P<instance>[^/]+))?/(?:errors)?$",
        periskop.ClientPushView.as_view(),
    ),
    path("targets/", periskop.TargetsView.as_view(), name="periskop-targets"),
    path("-/health", periskop.health, name="periskop-health"),
    path("errors", self_report.export, name="self-errors"),
]
