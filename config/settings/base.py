"""Settings shared by every environment; each value that differs per machine comes from the environment."""

import os
from decimal import ROUND_HALF_UP
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "import_export",
    "django_tasks_db",
    "catalog",
    "stores",
    "members",
    "marketing",
    "orders",
    "guides",
    "aftersales",
    "integrations",
    "dashboard",
    "insights",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "integrations.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.roles",
            ],
            # The list component's tags (status_badge, ...) live beside config/tables.py; config is
            # not an app, so the library is named here.
            "libraries": {"ui": "config.templatetags.ui"},
        },
    },
]

# --- Content-Security-Policy (Django's own middleware), in every environment so tests see it: our
# scripts and styles are files from our origin, or carry the request's nonce (`nonce="{{ csp_nonce
# }}"`); no 'unsafe-inline'. Inline style attributes are refused too (use a class). The API docs
# (Swagger UI, ReDoc) load from a CDN and have their own policy (portal/api_urls.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "media-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Powerful browser features (config.middleware): the camera for barcode scanning and geolocation
# for the public order page, on our own origin only; the rest denied.
PERMISSIONS_POLICY = {
    "camera": ["self"],
    "geolocation": ["self"],
    "microphone": [],
    "payment": [],
    "usb": [],
    "serial": [],
    "bluetooth": [],
    "hid": [],
    "midi": [],
    "magnetometer": [],
    "gyroscope": [],
    "accelerometer": [],
    "display-capture": [],
    "fullscreen": ["self"],
    "browsing-topics": [],
}

# Database: SQLite by default, DATABASE_URL=postgres://... switches to PostgreSQL.
# Persistent connections: opening a PostgreSQL connection costs ~10 ms per request.
CONN_MAX_AGE = int(os.environ.get("CONN_MAX_AGE", "60"))
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=CONN_MAX_AGE,
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Services own their transactions (STYLE.md); no ATOMIC_REQUESTS.
DATABASES["default"]["ATOMIC_REQUESTS"] = False

# Cache: Redis when REDIS_URL is set (shared across app servers: rate limits, throttles),
# otherwise per-process memory, which is enough on one machine.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background work goes through Django's tasks framework, queued in the database (django-tasks-db)
# so a task enqueued inside a transaction commits or rolls back with it; `manage.py db_worker` runs it.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "webhooks"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# --- django-allauth: e-mail + password, staff accounts are created by HQ (no open sign-up).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "config.accounts.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Failed logins are rate-limited per IP, per account and address, and per account from anywhere
# with a higher ceiling (config/accounts.py; docs/security.md, "Sign-in limits"); the admin's login
# goes through allauth too (portal/urls.py), so these limits cover every login path.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",  # key: the account and the client's address
    "login_failed_account": "30/h/key",  # key: the account, whatever the address
    "login": "30/m/ip",
}
# Our own reverse proxies / load balancers (addresses or networks, comma-separated). Only a
# request whose REMOTE_ADDR is one of them has its X-Forwarded-For read for the client's address
# (config.accounts.client_ip); by default none, so a client cannot choose its own address.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "O2O back office"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@o2o.local")
# Django 6.1 mailers; the console backend until a real SMTP relay is configured.
MAILERS = {
    "default": {
        "BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
    }
}

# --- Internationalisation: English and Simplified Chinese; the business runs on Shanghai time.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Money: every amount is a Decimal in CNY with 2 places, rounded half-up (config/money.py).
CURRENCY = "CNY"
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
MONEY_ROUNDING = ROUND_HALF_UP

# How long a process keeps the promotions, coupon scopes and points rules it read (marketing.rules):
# a change made elsewhere reaches every order within this many seconds. 0 reads them every time.
MARKETING_RULES_SECONDS = int(os.environ.get("MARKETING_RULES_SECONDS", "5"))

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"

REST_FRAMEWORK = {
    # API keys first (a bad key is a 401 with a Bearer challenge); people keep their sessions.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "config.api.permissions.IsStaffUser",
        "integrations.permissions.KeyScopes",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_KEY_RATE", "600/min")},
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    # Every POST under /api/v1/ honours Idempotency-Key (integrations.idempotency): documented once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.idempotency.openapi_idempotency_hook",
        # Examples keyed by operationId: errors everywhere, bodies of the main operations.
        "portal.api_examples.openapi_examples_hook",
    ],
    "TITLE": "O2O back office API",
    "DESCRIPTION": "Catalog, prices, stores and stock of the O2O back office.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `kind`; name their enums apart so the schema has no clashes.
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "catalog.choices.ChannelKind",
        "StoreKindEnum": "stores.choices.StoreKind",
        "MovementKindEnum": "stores.choices.MovementKind",
        "OrderStatusEnum": "orders.choices.OrderStatus",
        "AssignmentStatusEnum": "orders.choices.AssignmentStatus",
    },
}

IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The level sits on the handler too: records that propagate from django.request (a 409 is a
    # WARNING there) reach the root handler whatever the root logger's own level is.
    "handlers": {"console": {"class": "logging.StreamHandler", "level": os.environ.get("LOG_LEVEL", "INFO")}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Orders: how long a store has to accept a routed order before it moves to the next one.
ORDERS_ACCEPT_MINUTES = int(os.environ.get("ORDERS_ACCEPT_MINUTES", "30"))

# --- Requests: the longest a request may run (gunicorn --timeout should be the same). An
# Idempotency-Key's in-progress claim is a lease of this length: a worker killed mid-request gives
# its key back when the lease runs out, and the retry runs (integrations.idempotency).
REQUEST_TIMEOUT_SECONDS = int(os.environ.get("REQUEST_TIMEOUT_SECONDS", "30"))
IDEMPOTENCY_LEASE_SECONDS = REQUEST_TIMEOUT_SECONDS
