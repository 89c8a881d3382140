"""URLs of the whole service: each app's routes, the admin, the API schema and
its documentation (Swagger UI)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from foundation.config import pages as config_pages

urlpatterns = [
    # Before admin/, whose catch-all would answer them.
    path("admin/audits/import/", config_pages.import_config, name="admin-import-config"),
    path("admin/audits/export/", config_pages.export_config, name="admin-export-config"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Browsable documentation of the schema: Swagger UI, its files served from here.
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/", include("django.contrib.auth.urls")),
    # The staff dashboard: checks, then errors (each app serves its own pages).
    path("dashboard/errors/", include("errors.dashboard.urls")),
    path("dashboard/", include("audits.dashboard.urls")),
    path("api/errors/", include("errors.api.urls")),
    path("", include("foundation.urls")),
    path("", include("audits.api.urls")),
    path("", include("errors.periskop.urls")),
]

# A URL that matches no route: JSON for programs, HTML for browsers.
handler404 = "foundation.error_pages.not_found"
