"""
Who may do what, the same in every app: change things through the API
(`IsStaffOrToken`), and see the dashboard's pages (`dashboard_access`).
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

FORBIDDEN = "This dashboard is for staff users; ask an administrator for access."


class IsStaffOrToken(BasePermission):
    """
    A logged-in staff user (session, CSRF enforced by DRF's SessionAuthentication),
    or a script holding an API token (created in the admin) of an active user.

    Sessions are the only credentials that need staff: every other authenticator
    the views use reads an API token, from `Authorization: Token <key>` or from the
    password of HTTP Basic auth (`errors.authentication`). Views list their token
    authenticator first, so that a request without credentials answers 401 with
    `WWW-Authenticate` rather than 403.
    """

    message = "Log in as a staff user, or send `Authorization: Token <key>`."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        by_session = isinstance(request.successful_authenticator, SessionAuthentication)
        return user.is_staff or not by_session


def dashboard_access(view=None, *, api=False):
    """
    Staff read and change. With PUBLIC_DASHBOARD anyone reads (GET, HEAD), without
    the buttons. Otherwise anonymous visitors are sent to the login page (`api`:
    401 JSON), and logged-in users who are not staff get the 403 page
    `dashboard/forbidden.html` (`api`: 403 JSON). A refused POST is not replayed
    after the login: the login leads back to the page.

    Sets `request.can_change`, which the views pass to the templates to show the
    buttons; changes still need a staff session and a CSRF token.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            staff = user.is_authenticated and user.is_active and user.is_staff
            reading = request.method in ("GET", "HEAD")
            if not (staff or (reading and settings.PUBLIC_DASHBOARD)):
                return _refused(request, api)
            request.can_change = staff
            return view(request, *args, **kwargs)

        return wrapped

    return decorator(view) if view else decorator


def _refused(request, api: bool):
    if request.user.is_authenticated:
        if api:
            return JsonResponse({"detail": FORBIDDEN}, status=403)
        return render(request, "dashboard/forbidden.html", {"detail": FORBIDDEN}, status=403)
    if api:
        return JsonResponse({"detail": "Log in as a staff user."}, status=401)
    return redirect_to_login(request.get_full_path())
