"""URLs of the whole service: each app's routes, the admin, the API schema."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from audits.dockerflow import metrics

urlpatterns = [
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
