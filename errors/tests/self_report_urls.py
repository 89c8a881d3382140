"""URLs for test_self_report: the service's own, plus a view that raises."""

from django.urls import include, path

from errors.tests.test_self_report import broken_view

urlpatterns = [path("broken", broken_view), path("", include("errors.periskop.urls"))]
