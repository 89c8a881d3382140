"""URLs of the whole service: each app's routes, the admin, the API schema."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from audits import admin_import
from audits.dockerflow import metrics

urlpatterns = [
    # Before admin/, whose catch-all would answer them.
    path("admin/audits/import/", admin_import.import_config, name="admin-import-config"),
    path("admin/audits/export/", admin_import.export_config, name="admin-export-config"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "dashboard/",
        TemplateView.as_view(template_name="dashboard/placeholder.html"),
        name="dashboard",
    ),
    path("api/errors/", include("errors.urls_api")),
    path("", include("audits.urls")),
    path("", include("errors.urls")),
    # Periskop served its metrics here; the same registry as /__metrics__.
    path("metrics", metrics, name="metrics"),
]
