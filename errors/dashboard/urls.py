"""The dashboard pages of the errors (see errors/dashboard/views.py), under /dashboard/errors/."""

from django.urls import path, re_path

from errors.dashboard import views

urlpatterns = [
    path("", views.services, name="errors-dashboard"),
    path("<str:service>/", views.service_groups, name="errors-service"),
    path("<str:service>/targets/", views.service_targets, name="errors-targets"),
    # Keys may hold any character, "/" included (sent as %2F or as is): everything
    # up to the final slash, as in errors/periskop/urls.py.
    re_path(
        r"^(?P<service>[^/]+)/errors/(?P<key>.+)/$",
        views.group_detail,
        name="errors-group",
    ),
]
