"""Who may call the API at all; per-object scoping happens in each app's selectors."""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from config.roles import Role, is_hq, role_names

# Roles whose people may write through the API with their session. Guides (who sign themselves up)
# and accounts without a role only read, each their own rows; machines write with an API key.
WRITING_ROLES = frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER, Role.STORE_CLERK, Role.PARTNER})


class IsStaffUser(permissions.BasePermission):
    """Signed-in people and API keys; a person's writes (POST, PUT, PATCH, DELETE) need a staff
    role (WRITING_ROLES), API keys are judged by their scopes (integrations.permissions.KeyScopes)."""

    message = _("Your account may read here but not change anything.")

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or getattr(user, "api_key", None) is not None:
            return True
        return bool(user.is_superuser or WRITING_ROLES & role_names(user))


class HQWritesOnly(IsStaffUser):
    """Everyone logged in may read; only HQ admins may write (prices, reference data)."""

    message = _("Only HQ admins may change this.")

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in permissions.SAFE_METHODS or is_hq(request.user)
