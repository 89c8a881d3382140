"""Routes of the errors API, included under `/api/errors/` by telescope_site.urls."""

from rest_framework.routers import SimpleRouter

from errors.api import views as api

app_name = "errors_api"

router = SimpleRouter(use_regex_path=False)
router.register("groups", api.GroupViewSet, basename="group")

urlpatterns = router.urls
