"""Telescope's routes: the checks API and the Dockerflow endpoints."""

from django.urls import path

from . import api, dockerflow

app_name = "audits"

urlpatterns = [
    path("", api.RootView.as_view(), name="root"),
    path("checks", api.CheckListView.as_view(), name="checks"),
    # Before <project>/<name>: "tags" is a reserved project name.
    path("checks/tags/<str:tags>", api.TagChecksView.as_view(), name="tag"),
    path("checks/<str:project>", api.ProjectChecksView.as_view(), name="project"),
    path("checks/<str:project>/<str:name>", api.CheckDetailView.as_view(), name="check"),
    path(
        "checks/<str:project>/<str:name>/history",
        api.CheckHistoryView.as_view(),
        name="history",
    ),
    path("checks/<str:project>/<str:name>/runs", api.CheckRunsView.as_view(), name="runs"),
    path("uptime/<str:project>", api.ProjectUptimeView.as_view(), name="project-uptime"),
    path("uptime/<str:project>/<str:name>", api.CheckUptimeView.as_view(), name="uptime"),
    path("__heartbeat__", dockerflow.heartbeat, name="heartbeat"),
    path("__lbheartbeat__", dockerflow.lbheartbeat, name="lbheartbeat"),
    path("__version__", dockerflow.version, name="version"),
    path("__metrics__", dockerflow.metrics, name="metrics"),
    path("diagram.svg", dockerflow.diagram, name="diagram"),
]
