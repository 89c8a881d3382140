"""
The answer to a URL that matches no route: JSON (`{"detail": "Not found."}`) for
programs, Django's HTML page for browsers.

Monitors and scripts read the API's 404s as JSON; a URL that misses every route
(a key with a newline, an id that is not a number) would otherwise get an HTML
page. A browser says it wants HTML in its Accept header; curl and API clients
(`*/*`, `application/json`) get JSON.
"""

from django.http import JsonResponse
from django.views import defaults


def not_found(request, exception):
    if "text/html" in request.headers.get("Accept", ""):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)
