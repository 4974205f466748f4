"""Login security: allauth email login, no open sign-up, failed logins rate-limited on every
login path (the admin's included), TOTP two-factor for HQ."""

import html
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from tests.factories import UserFactory, hq_user

pytestmark = pytest.mark.django_db

PASSWORD = "pass-1234-word"  # tests.factories.UserFactory


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # allauth keeps its rate-limit counters in the cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


def login(client, email, password, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def session_user_id(client):
    return client.session.get("_auth_user_id")


def test_staff_logs_in_with_email_and_password(client):
    user = hq_user(email="ops@o2o.example")

    response = login(client, "ops@o2o.example", PASSWORD)

    assert response.status_code == 302
    assert session_user_id(client) == str(user.pk)


def test_wrong_password_does_not_log_in(client):
    hq_user(email="ops@o2o.example")

    response = login(client, "ops@o2o.example", "not-the-password")

    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in html.unescape(
        response.content.decode()
    )
    assert session_user_id(client) is None


def test_sign_up_is_closed(client):
    from django.contrib.auth import get_user_model

    response = client.get("/accounts/signup/")
    assert "Sign Up Closed" in response.content.decode()

    client.post(
        "/accounts/signup/",
        {
            "email": "intruder@example.com",
            "password1": "Str0ng-pass-phrase",
            "password2": "Str0ng-pass-phrase",
        },
    )
    assert not get_user_model().objects.filter(email="intruder@example.com").exists()


def test_failed_logins_lock_the_account_even_for_the_right_password(client):
    user = hq_user(email="ops@o2o.example")

    for _ in range(5):  # ACCOUNT_RATE_LIMITS login_failed: 5 per 5 minutes per account
        login(client, "ops@o2o.example", "guess")
    response = login(client, "ops@o2o.example", PASSWORD)

    assert "Too many failed login attempts. Try again later." in html.unescape(response.content.decode())
    assert session_user_id(client) is None
    user.refresh_from_db()
    assert user.last_login is None


def test_failed_logins_from_one_ip_are_limited_across_accounts(client):
    for i in range(10):  # 10 per minute per IP, whichever accounts are tried
        hq_user(email=f"user{i}@o2o.example")
        login(client, f"user{i}@o2o.example", "guess")
    target = hq_user(email="target@o2o.example")

    response = login(client, "target@o2o.example", PASSWORD)

    assert "Too many failed login attempts" in html.unescape(response.content.decode())
    assert session_user_id(client) != str(target.pk)


def test_login_posts_beyond_30_a_minute_from_one_ip_get_429(client):
    for i in range(30):
        login(client, f"nobody{i}@o2o.example", "guess")

    response = login(client, "nobody@o2o.example", "guess")

    assert response.status_code == 429


def test_another_ip_is_not_locked_out_by_someone_elses_guesses(client):
    hq_user(email="a@o2o.example")
    for _ in range(10):
        login(client, "a@o2o.example", "guess", REMOTE_ADDR="203.0.113.7")
    user = hq_user(email="b@o2o.example")

    login(client, "b@o2o.example", PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert session_user_id(client) == str(user.pk)


def test_admin_login_page_redirects_to_the_allauth_login(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    url = urlsplit(response.url)
    assert url.path == "/accounts/login/"
    assert parse_qs(url.query)["next"] == ["/admin/"]


def test_posting_credentials_to_the_admin_login_does_not_log_in(client):
    # The admin's own form is never reached, so it cannot be used to sidestep the rate limit.
    hq_user(username="ops", email="ops@o2o.example")

    response = client.post("/admin/login/", {"username": "ops", "password": PASSWORD})

    assert response.status_code == 302
    assert urlsplit(response.url).path == "/accounts/login/"
    assert session_user_id(client) is None


def test_admin_login_is_rate_limited_because_it_is_allauths(client):
    hq_user(email="ops@o2o.example")
    for _ in range(5):
        login(client, "ops@o2o.example", "guess")

    response = client.get("/admin/login/?next=/admin/", follow=True)
    assert urlsplit(response.redirect_chain[-1][0]).path == "/accounts/login/"
    response = login(client, "ops@o2o.example", PASSWORD)

    assert "Too many failed login attempts" in html.unescape(response.content.decode())
    assert client.get("/admin/").status_code == 302  # still not in


def test_admin_pages_send_anonymous_users_to_the_rate_limited_login(client):
    response = client.get("/admin/catalog/price/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_non_staff_user_is_refused_by_the_admin_login(client):
    clerk = UserFactory(email="clerk@o2o.example")
    client.force_login(clerk)

    assert client.get("/admin/login/").status_code == 403


def test_hq_user_can_open_the_totp_activation_page_after_confirming_the_password(client):
    hq_user(email="ops@o2o.example")
    login(client, "ops@o2o.example", PASSWORD)

    # allauth asks for the password again before a security change such as adding TOTP.
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    response = client.post(response.url, {"password": PASSWORD})
    assert response.status_code == 302

    response = client.get("/accounts/2fa/totp/activate/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "data:image/svg+xml" in body  # the QR code the authenticator app scans
    assert response.context["form"].secret in body


# --- sign-in limits (issue 14, defect 8; docs/security.md, "Sign-in limits") ------------------------


def test_a_client_reaching_the_app_directly_cannot_choose_its_address_with_x_forwarded_for(client, settings):
    # Production used to skip one proxy in X-Forwarded-For (ALLAUTH_TRUSTED_PROXY_COUNT = 1), so a
    # client reaching the app directly wrote its own address there. Now only listed proxies count.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    for i in range(11):  # past 10 a minute per address, each "from" another address
        login(client, f"nobody{i}@o2o.example", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    target = hq_user(email="target@o2o.example")

    response = login(client, "target@o2o.example", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")

    assert "Too many failed login attempts" in html.unescape(response.content.decode())
    assert session_user_id(client) != str(target.pk)


def test_x_forwarded_for_is_read_only_from_a_trusted_proxy_and_from_the_right():
    from django.test import RequestFactory, override_settings

    from config.accounts import client_ip

    factory = RequestFactory()
    spoofed = "6.6.6.6, 203.0.113.5, 10.0.0.2"  # client wrote 6.6.6.6; proxy 10.0.0.2 saw 203.0.113.5
    direct = factory.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=spoofed)
    proxied = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=spoofed)

    with override_settings(TRUSTED_PROXIES=[]):
        assert client_ip(proxied) == "10.0.0.1"
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/24"]):
        assert client_ip(direct) == "203.0.113.9"
        assert client_ip(proxied) == "203.0.113.5"
        assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="junk")) == "10.0.0.1"


def test_someone_elses_bad_passwords_do_not_lock_the_owner_out(client):
    owner = hq_user(email="ops@o2o.example")
    for _ in range(5):
        login(client, "ops@o2o.example", "guess", REMOTE_ADDR="203.0.113.7")

    attacker = login(client, "ops@o2o.example", PASSWORD, REMOTE_ADDR="203.0.113.7")
    assert "Too many failed login attempts" in html.unescape(attacker.content.decode())
    assert session_user_id(client) is None

    login(client, "ops@o2o.example", PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert session_user_id(client) == str(owner.pk)
    owner.refresh_from_db()
    assert owner.last_login is not None


def test_guesses_spread_over_many_addresses_hit_the_account_wide_ceiling(client):
    owner = hq_user(email="ops@o2o.example")
    for i in range(30):  # 30 an hour per account from anywhere; 5 per address
        login(client, "ops@o2o.example", "guess", REMOTE_ADDR=f"203.0.113.{i // 5}")

    response = login(client, "ops@o2o.example", PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert "Too many failed login attempts" in html.unescape(response.content.decode())
    assert session_user_id(client) != str(owner.pk)


def test_a_successful_sign_in_does_not_count_against_the_account_wide_ceiling(client):
    owner = hq_user(email="ops@o2o.example")
    for i in range(40):
        client.logout()
        login(client, "ops@o2o.example", PASSWORD, REMOTE_ADDR=f"198.51.100.{i}")
        assert session_user_id(client) == str(owner.pk)
