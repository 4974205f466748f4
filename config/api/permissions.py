"""Who may call the API at all; per-object scoping happens in each app's selectors."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from config.roles import is_hq


class IsStaffUser(permissions.BasePermission):
    """Logged-in people with a role (HQ, store staff, partners); API keys come later."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


class HQWritesOnly(IsStaffUser):
    """Everyone logged in may read; only HQ admins may write (prices, reference data)."""

    message = _("Only HQ admins may change this.")

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in permissions.SAFE_METHODS or is_hq(request.user)
