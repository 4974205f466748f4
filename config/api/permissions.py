"""Who may call the API at all; per-object scoping happens in each app's selectors."""

from rest_framework import permissions


class IsStaffUser(permissions.BasePermission):
    """Logged-in people with a role (HQ, store staff, partners); API keys come later."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
