"""
Who may change errors through the API: staff sessions, or API tokens.

The same rule as the audits app's, written again here because `audits` and
`errors` never import each other.
"""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission


class IsStaffOrToken(BasePermission):
    """
    A logged-in staff user (session, CSRF enforced by DRF's SessionAuthentication),
    or a script holding an API token (created in the admin) of an active user.

    Sessions are the only credentials that need staff: every other authenticator
    the errors views use reads an API token, from `Authorization: Token <key>` or
    from the password of HTTP Basic auth (`errors.authentication`). Views list
    their token authenticator first, so that a request without credentials
    answers 401 with `WWW-Authenticate` rather than 403.
    """

    message = "Log in as a staff user, or send `Authorization: Token <key>`."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        by_session = isinstance(request.successful_authenticator, SessionAuthentication)
        return user.is_staff or not by_session
