"""URLs of the whole service: each app's routes, the admin, the API schema."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "dashboard/",
        TemplateView.as_view(template_name="dashboard/placeholder.html"),
        name="dashboard",
    ),
    path("", include("audits.urls")),
]
