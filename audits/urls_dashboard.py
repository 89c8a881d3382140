"""The dashboard pages of the checks (see audits/views.py)."""

urlpatterns = []
