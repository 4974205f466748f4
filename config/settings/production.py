"""Production: secure by default. SECRET_KEY and ALLOWED_HOSTS must come from the environment."""

import os

from .base import *  # noqa: F403
from .base import ImproperlyConfigured, env_bool

if DEBUG:  # noqa: F405
    raise RuntimeError("DEBUG must be off in production settings.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Mail leaves through an SMTP relay (password resets, statements); the relay comes from the environment.
MAILERS = {
    "default": {
        "BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"),
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "587")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", True),
        },
    }
}

# Behind the load balancer every request comes from its address: list it in TRUSTED_PROXIES (the
# environment; base.py), or one address's failed logins would count for everyone. X-Forwarded-For
# is read only from those addresses (config.accounts.client_ip), never from a client reaching the
# app directly.

# Rate limits and throttles count in the cache; per-process memory would multiply them by the
# number of workers, so production needs the shared Redis cache.
if not os.environ.get("REDIS_URL"):
    raise ImproperlyConfigured("Set REDIS_URL in production: rate limits need a cache shared by all workers.")

# An import's preview and its confirm may land on different app servers: keep the upload in
# shared media storage, not a local temp folder.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
