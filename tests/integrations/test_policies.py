"""API keys and webhooks are HQ's (integrations.policies): the API, the admin and the services ask one
policy; the key endpoint's input refuses unknown fields (issue 14, task 6)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from config.errors import Forbidden
from config.roles import SYSTEM
from integrations.models import ApiKey
from integrations.policies import integrations_manageable_by, integrations_require
from integrations.services import api_key_create, api_key_revoke
from tests.factories import ChannelFactory, StoreFactory, UserFactory, hq_user, manager_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    return ChannelFactory(code="jd", name="JD")


def staff_with_integration_permissions():
    """A staff account given the integrations model permissions by mistake, not HQ."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))
    return user


def test_only_hq_people_may_manage_integrations(channel):
    key, _plaintext = api_key_create(name="JD", channel=channel, scopes=["orders:read"], actor=SYSTEM)
    from integrations.authentication import KeyUser

    assert integrations_manageable_by(hq_user())
    assert not integrations_manageable_by(manager_at(StoreFactory()))
    assert not integrations_manageable_by(staff_with_integration_permissions())
    assert not integrations_manageable_by(KeyUser(key))
    assert not integrations_manageable_by(None)
    with pytest.raises(Forbidden):
        integrations_require(UserFactory())


def test_the_services_refuse_a_person_who_is_not_hq(channel):
    clerk = manager_at(StoreFactory())

    with pytest.raises(Forbidden):
        api_key_create(name="JD", channel=channel, scopes=["orders:read"], actor=clerk)
    assert not ApiKey.objects.exists()
    key, _plaintext = api_key_create(name="JD", channel=channel, scopes=["orders:read"], actor=hq_user())
    with pytest.raises(Forbidden):
        api_key_revoke(key=key, actor=clerk)
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.parametrize(
    "url",
    [
        "/admin/integrations/apikey/",
        "/admin/integrations/apikey/add/",
        "/admin/integrations/webhooksubscription/",
        "/admin/integrations/webhookdelivery/",
        "/admin/integrations/outboxevent/",
    ],
)
def test_the_admin_pages_refuse_staff_given_the_permissions_by_mistake(url):
    client = Client()
    client.force_login(staff_with_integration_permissions())

    assert client.get(url).status_code == 403


def test_the_key_endpoint_refuses_unknown_fields_and_makes_nothing(hq_client, channel):
    response = hq_client.post(
        "/api/v1/api-keys/",
        {"name": "JD", "channel": "jd", "scopes": ["orders:read"], "scope": "orders:write"},
        content_type="application/json",
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert list(body["fields"]) == ["scope"]
    assert not ApiKey.objects.exists()
