"""English and Simplified Chinese: the login page, the portal and the model choices speak Chinese
when the browser asks for it or the user switches language."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from catalog.choices import ChannelKind
from stores.choices import MovementKind, StoreKind
from tests.factories import StoreFactory, clerk_at

pytestmark = pytest.mark.django_db


def test_login_page_is_english_by_default(client):
    body = client.get(reverse("account_login")).content.decode()
    assert '<html lang="en">' in body
    assert "Sign in to the staff portal" in body


def test_login_page_renders_in_chinese_for_a_chinese_browser(client):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "登录员工门户" in body
    assert "电子邮箱" in body
    assert "Sign in to the staff portal" not in body


def test_a_zh_cn_browser_gets_simplified_chinese(client):
    body = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "登录员工门户" in body


def test_language_switch_turns_the_site_chinese_and_back(client):
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("account_login")}, follow=True
    )
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "登录员工门户" in response.content.decode()
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("account_login")}, follow=True
    )
    assert "Sign in to the staff portal" in response.content.decode()


def test_portal_pages_and_model_choices_are_translated(client):
    store = StoreFactory(name="Wangfujing")
    client.force_login(clerk_at(store))
    client.post(reverse("set_language"), {"language": "zh-hans"})
    home = client.get(reverse("portal:home")).content.decode()
    assert "我的门店" in home and "库存查询" in home and "退出登录" in home
    page = client.get(reverse("stores:detail", args=[store.code])).content.decode()
    assert "直营旗舰店" in page  # StoreKind.OWN_FLAGSHIP
    assert "营业中" in page  # StoreStatus.OPEN


def test_language_switch_offers_both_languages_in_their_own_names(client):
    body = client.get(reverse("account_login")).content.decode()
    assert 'name="language" value="en"' in body
    assert 'name="language" value="zh-hans"' in body
    assert "简体中文" in body


def test_choices_and_service_messages_have_chinese_translations():
    with translation.override("zh-hans"):
        assert str(StoreKind.DEALER.label) == "经销商"
        assert str(ChannelKind.MARKETPLACE.label) == "电商平台旗舰店"
        assert str(MovementKind.ADJUSTMENT.label) == "盘点调整"
        assert translation.gettext("A price must be greater than zero.") == "价格必须大于零。"
