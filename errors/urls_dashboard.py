"""The dashboard pages of the errors (see errors/views.py)."""

urlpatterns = []
