"""Template context shared by every page: which nav entries and tiles the user's roles get.

One query per request at most (the user's groups, cached on the user by config.roles)."""

from config.roles import Role, is_hq, role_names


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_hq": False, "user_roles": frozenset()}
    names = role_names(user)
    return {
        "is_hq": is_hq(user),
        "user_roles": names,
        "is_store_manager": Role.STORE_MANAGER in names,
        "is_store_clerk": Role.STORE_CLERK in names,
        "is_partner": Role.PARTNER in names,
        "is_guide": Role.GUIDE in names,
        "Role": Role,
    }
