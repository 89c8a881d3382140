"""The operational routes every process serves: Dockerflow's and the metrics."""

from django.urls import path

from foundation import dockerflow, metrics

app_name = "foundation"

urlpatterns = [
    path("__heartbeat__", dockerflow.heartbeat, name="heartbeat"),
    path("__lbheartbeat__", dockerflow.lbheartbeat, name="lbheartbeat"),
    path("__version__", dockerflow.version, name="version"),
    path("__metrics__", metrics.metrics, name="metrics"),
    # Periskop served its metrics here; the same registry as /__metrics__.
    path("metrics", metrics.metrics, name="periskop-metrics"),
]
