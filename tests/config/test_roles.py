import pytest
from django.contrib.auth.models import Group

from config.roles import Role, is_hq
from tests.factories import UserFactory, hq_user


@pytest.mark.django_db
def test_every_role_is_a_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


@pytest.mark.django_db
def test_hq_admin_group_holds_the_catalog_and_store_permissions():
    perms = set(Group.objects.get(name=Role.HQ_ADMIN).permissions.values_list("codename", flat=True))
    assert {"add_price", "change_sku", "view_stock", "change_store"} <= perms


@pytest.mark.django_db
def test_hq_admin_group_also_holds_permissions_of_apps_migrated_after_stores():
    # The groups are filled after every app's migrate, not only the stores app's.
    perms = set(Group.objects.get(name=Role.HQ_ADMIN).permissions.values_list("codename", flat=True))
    assert {"view_member", "change_member", "add_pointsentry", "view_segment"} <= perms


@pytest.mark.django_db
def test_only_hq_admins_and_superusers_are_hq():
    assert is_hq(hq_user())
    assert is_hq(UserFactory(is_superuser=True))
    assert not is_hq(UserFactory(roles=[Role.STORE_MANAGER]))
