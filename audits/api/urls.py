"""Telescope's routes: the checks API, uptime, the diagram, and the old UI's bookmarks."""

from django.urls import path
from django.views.generic import RedirectView

from audits.api import views as api
from audits.dashboard import views as dashboard

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
    path("diagram.svg", dashboard.diagram_file, name="diagram"),
    # Telescope's UI lived here: bookmarks land on the dashboard. A 302 keeps the
    # #project/name fragment, which the dashboard's script follows to the check.
    path(
        "html/index.html",
        RedirectView.as_view(pattern_name="dashboard", query_string=True),
        name="telescope-ui",
    ),
    path("html/", RedirectView.as_view(pattern_name="dashboard", query_string=True)),
]
