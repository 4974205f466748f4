from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from config.money import quantize_money


def test_database_connections_are_persistent():
    # Without persistent connections every request pays for a new PostgreSQL connection.
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0 or settings.DATABASES["default"].get(
        "OPTIONS", {}
    ).get("pool")


def test_services_own_their_transactions():
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is False


def test_business_runs_on_shanghai_time_with_aware_datetimes():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True


def test_languages_are_english_and_simplified_chinese():
    assert [code for code, _ in settings.LANGUAGES] == ["en", "zh-hans"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("10.005", "10.01"), ("10.004", "10.00"), ("-0.005", "-0.01"), (3, "3.00"), (Decimal("2.675"), "2.68")],
)
def test_money_rounds_half_up_to_cents(raw, expected):
    assert quantize_money(raw) == Decimal(expected)


def test_money_refuses_what_is_not_an_amount():
    with pytest.raises(ValueError):
        quantize_money("ten yuan")


@pytest.mark.django_db
def test_check_constraints_exist_in_the_database():
    with connection.cursor() as cursor:
        stock = connection.introspection.get_constraints(cursor, "stores_stock")
        price = connection.introspection.get_constraints(cursor, "catalog_price")
    assert {"stock_on_hand_not_negative", "stock_reserved_within_on_hand"} <= set(stock)
    assert "price_amount_positive" in price


def _production(code: str, **env) -> str:
    """Run `code` under the production settings in a fresh interpreter; returns its stdout."""
    import os
    import secrets
    import subprocess
    import sys

    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": "o2o.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        **env,
    }
    environ.pop("TRUSTED_PROXIES", None)
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_production_turns_csp_on_trusts_no_proxy_by_default_and_passes_the_deploy_check():
    out = _production(
        "from django.conf import settings as s; import json; "
        "print(json.dumps([s.SECURE_CSP['script-src'], s.SECURE_CSP['style-src'], s.TRUSTED_PROXIES, "
        "'django.middleware.csp.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE, "
        "'config.middleware.PermissionsPolicyMiddleware' in s.MIDDLEWARE, "
        "getattr(s, 'ALLAUTH_TRUSTED_PROXY_COUNT', 0)]))"
    )
    import json

    script_src, style_src, proxies, csp_on, permissions_on, proxy_count = json.loads(out)
    assert "'unsafe-inline'" not in script_src + style_src
    assert proxies == []
    assert csp_on and permissions_on
    assert proxy_count == 0  # X-Forwarded-For is read through TRUSTED_PROXIES only
    deploy = _production(
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    assert "no issues" in deploy
