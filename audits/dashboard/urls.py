"""
The dashboard pages of the checks (see audits/dashboard/views.py), under /dashboard/.

Names are not namespaced: `dashboard` is LOGIN_REDIRECT_URL, and the errors pages
link back to it by name.
"""

from django.urls import path

from audits.dashboard import views

urlpatterns = [
    path("", views.overview, name="dashboard"),
    path("status.json", views.status, name="dashboard-status"),
    path("checks/<str:project>/<str:name>/", views.check_detail, name="dashboard-check"),
    path("badges/checks/<str:project>/<str:name>.svg", views.badge_check, name="badge-check"),
    path("badges/projects/<str:project>.svg", views.badge_project, name="badge-project"),
    path("badges/tags/<str:tag>.svg", views.badge_tag, name="badge-tag"),
]
