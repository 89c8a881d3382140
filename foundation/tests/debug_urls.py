"""URLs of the error-page tests: a view that fails holding a resolved `${VAR}`."""

from django.urls import path

from foundation import placeholders

RESOLVED = "resolved-in-a-local-8d7c6b"


def failing_view(request):
    url = placeholders.resolve("https://host/?t=${PAGE_TOKEN}", {"PAGE_TOKEN": RESOLVED})
    raise RuntimeError(f"could not fetch {url}")


urlpatterns = [path("fails/", failing_view)]
