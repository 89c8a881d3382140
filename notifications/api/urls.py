"""Routes of the notifications API, included under `/api/notifications/`."""

from rest_framework.routers import SimpleRouter

from notifications.api import views

app_name = "notifications_api"

router = SimpleRouter(use_regex_path=False)
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("windows", views.MaintenanceWindowViewSet, basename="window")

urlpatterns = router.urls
