"""Local development: `make run`. Debug on, a throwaway secret key."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")

from .base import *  # noqa: E402,F403
