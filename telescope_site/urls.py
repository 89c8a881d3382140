"""URLs of the whole service: each app's routes, the admin, the API schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from audits import admin_import
from audits.dockerflow import metrics

urlpatterns = [
    # Before admin/, whose catch-all would answer them.
    path("admin/audits/import/", admin_import.import_config, name="admin-import-config"),
    path("admin/audits/export/", admin_import.export_config, name="admin-export-config"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("accounts/", include("django.contrib.auth.urls")),
    # The staff dashboard: checks, then errors (each app serves its own pages).
    path("dashboard/errors/", include("errors.urls_dashboard")),
    path("dashboard/", include("audits.urls_dashboard")),
    path("api/errors/", include("errors.urls_api")),
    path("", include("audits.urls")),
    path("", include("errors.urls")),
    # Periskop served its metrics here; the same registry as /__metrics__.
    path("metrics", metrics, name="metrics"),
]
