"""The test suite: `make test`. Same as production apart from speed-ups for tests."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-insecure-key")

from .base import *  # noqa: E402,F403

# Marketing rules are read from the database on every order in tests (marketing.rules): a test's
# rolled-back promotion must not price the next test's order.
MARKETING_RULES_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
