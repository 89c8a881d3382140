"""
Content negotiation as Telescope does it, which monitors and scripts rely on.

* A check endpoint answers `text/plain` whenever `Accept` contains it, JSON when
  `Accept` is absent or allows JSON (`application/json`, `*/*`, `application/*`),
  and 406 otherwise. DRF's default would pick JSON for `text/plain, application/json`.
* Descriptive endpoints (`/`, `/checks`) always answer JSON, whatever `Accept` says.
* `?format=` is not an output switch here: query parameters belong to the checks.
"""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation

JSON_TYPES = ("application/json", "*/*", "application/*")


class TelescopeNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        # Bodies are parsed by their Content-Type (a form POST is not JSON).
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.headers.get("Accept", "").lower()
        by_type = {renderer.media_type: renderer for renderer in renderers}
        if "text/plain" in accept and "text/plain" in by_type:
            return by_type["text/plain"], "text/plain"
        if _allows_json(accept):
            return by_type["application/json"], "application/json"
        raise NotAcceptable(available_renderers=renderers)


def answers_json(accept: str) -> bool:
    """Whether a check endpoint answers JSON to this `Accept` header."""
    accept = accept.lower()
    return "text/plain" not in accept and _allows_json(accept)


def _allows_json(accept: str) -> bool:
    return not accept.strip() or any(t in accept for t in JSON_TYPES)


class AlwaysJSON(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
