"""Settings for bench/read_api.py: the project's settings with bench/_read_api_urls.py as URLconf.

DJANGO_SETTINGS_MODULE=_read_api_site  (with bench/ and the project root on PYTHONPATH)
"""

from config.settings.dev import *  # noqa: F403

ROOT_URLCONF = "_read_api_urls"
