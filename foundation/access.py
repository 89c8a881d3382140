"""Who may change things through the API: staff sessions, or API tokens."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission


class IsStaffOrToken(BasePermission):
    """
    A logged-in staff user (session, CSRF enforced by DRF), or a script holding an
    API token (created in the admin) of an active user.
    """

    message = "Log in as a staff user, or send `Authorization: Token <key>`."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.is_staff or isinstance(request.successful_authenticator, TokenAuthentication)
