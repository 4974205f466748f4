"""Roles are Django groups. HQ admins see everything; everyone else is kept to their own
stores, partner or guide account by the selectors of each app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ_ADMIN = "HQ admin", _("HQ admin")
    STORE_MANAGER = "Store manager", _("Store manager")
    STORE_CLERK = "Store clerk", _("Store clerk")
    PARTNER = "Partner", _("Partner")
    GUIDE = "Guide", _("Guide")


# Model permissions each role's group gets (app_label.codename prefixes). HQ gets all of ours.
HQ_APPS = ("catalog", "stores", "members", "marketing", "orders", "guides", "aftersales", "integrations")


# Who serves customers: store managers and clerks, and partners for their own stores (HQ too).
STAFF_ROLES = frozenset({Role.STORE_MANAGER, Role.STORE_CLERK, Role.PARTNER})
# Who takes products back at a store's counter (the service desk).
DESK_ROLES = frozenset({Role.STORE_MANAGER, Role.STORE_CLERK})


class _System:
    """The product acting on its own, for nobody in particular: offer time-outs, re-routing,
    seeding, imports, a customer's own order from a store's QR page. It may do everything and is
    recorded as nobody (`created_by` stays empty). Never a request's user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = True  # config.roles.is_hq answers yes: every policy lets it through
    is_staff = False
    pk = id = None
    _role_names = frozenset()

    def __str__(self):
        return "system"


SYSTEM = _System()


def role_names(user) -> frozenset[str]:
    """The user's role names, read once per request object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def is_hq(user) -> bool:
    return user.is_authenticated and (user.is_superuser or Role.HQ_ADMIN in role_names(user))


def ensure_role_groups(**kwargs) -> None:
    """Create the role groups (post_migrate), giving HQ admin every permission of our apps."""
    from django.contrib.auth.models import Group, Permission

    for role in Role:
        Group.objects.get_or_create(name=role.value)
    hq = Group.objects.get(name=Role.HQ_ADMIN)
    hq.permissions.set(Permission.objects.filter(content_type__app_label__in=HQ_APPS))
