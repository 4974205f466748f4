"""Template context shared by every page: which role tiles to show."""

from config.roles import Role, is_hq, role_names


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_hq": False, "user_roles": frozenset()}
    return {"is_hq": is_hq(user), "user_roles": role_names(user), "Role": Role}
