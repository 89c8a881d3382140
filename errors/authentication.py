"""
API tokens in HTTP Basic auth, for clients that cannot set headers; and tokens
that only add to what an open read shows.

periskop-client's `push_to_gateway(addr)` posts with no way to add a header, but
`requests` turns `http://push:<token>@host/...` into Basic auth: the password is
an API token (made in the admin), the user name is ignored.
"""

import base64

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class BasicTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            raise AuthenticationFailed("Invalid Basic credentials.") from None
        return TokenAuthentication().authenticate_credentials(decoded.partition(":")[2])

    def authenticate_header(self, request):
        return 'Basic realm="api"'


class BasicTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes BasicTokenAuthentication."""

    target_class = "errors.authentication.BasicTokenAuthentication"
    name = "basicToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "Password: an API token."}


class OptionalTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` on an open read: a valid token shows more
    (request bodies) and lifts the anonymous rate limit; a wrong one reads as
    anonymous, as those reads did before tokens mattered to them."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            return None


class OptionalTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes OptionalTokenAuthentication: a scheme of its
    own, since a wrong token is not refused there."""

    target_class = "errors.authentication.OptionalTokenAuthentication"
    name = "optionalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "Optional, `Token <key>`: shows request bodies and lifts the "
                           "anonymous rate limit; a wrong token reads as anonymous.",
        }
