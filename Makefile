# Two commands do everything: `make run` and `make test` (see README.md).
# Django 6 needs Python 3.12+. `python3` may be older (3.11 on our build machines),
# so we try the usual names and pyenv's installs and take the first that is new enough.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SCALE ?= small
# The browser tests (tests/browser/) drive this Chromium, from the OS packages: no `playwright install`.
CHROMIUM ?= /usr/bin/chromium

PYTHON ?= $(shell for p in python3.13 python3.12 python3.14 python3 \
	$$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -r) \
	/usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)

.PHONY: run test venv migrate seed lint bench clean schema browsers screenshots

$(VENV)/.installed: requirements.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python 3.12 or newer found (Django 6 needs it). Install python3.12+ or run: make PYTHON=/path/to/python3.12 ..." >&2; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --scale $(SCALE)

run: seed
	@echo ""
	@echo "  O2O back office: http://127.0.0.1:$(PORT)/"
	@echo "  Django admin:    http://127.0.0.1:$(PORT)/admin/"
	@echo "  API docs:        http://127.0.0.1:$(PORT)/api/v1/docs/"
	@echo "  Demo logins: printed by seed_demo above (password demo-pass-2026), also in README.md"
	@echo ""
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# The layers contract first (.importlinter; seconds), then the suite.
test: venv browsers
	$(VENV)/bin/lint-imports
	O2O_CHROMIUM=$(CHROMIUM) $(PY) -m pytest

# Debian's Chromium for the browser tests, plus a small CJK font so the Chinese pages render in the
# screenshots. Installed only when missing, and only where we may (root, or sudo without a password).
# Where it cannot be installed this says so and carries on: the browser tests then skip with that
# reason, except under CI=true, where they fail.
browsers:
	@if [ -x "$(CHROMIUM)" ] && fc-list :lang=zh family 2>/dev/null | grep -q .; then \
		echo "Browser tests use $(CHROMIUM)"; \
	elif ! command -v apt-get >/dev/null; then \
		echo "No $(CHROMIUM) and no apt-get here: install Chromium yourself (or set O2O_CHROMIUM); browser tests skip until then" >&2; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else \
			echo "Chromium or a CJK font is missing: run 'sudo apt-get install chromium fonts-wqy-microhei' (browser tests skip without Chromium)" >&2; exit 0; fi; \
		echo "Installing Chromium and a CJK font from the OS packages"; \
		{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-wqy-microhei; } \
			|| echo "Could not install Chromium (browser tests skip until it is installed)" >&2; \
	fi

# The README's screenshots (docs/screenshots/): HQ's dashboard, a clerk's order queue and a partner's
# home, taken by the browser tests (which leave every step in artefacts/screenshots/).
SHOTS := artefacts/screenshots
screenshots: venv browsers
	rm -f $(SHOTS)/*.png
	O2O_CHROMIUM=$(CHROMIUM) $(PY) -m pytest tests/browser -q -p no:cacheprovider \
		-k "dashboard and 1024x768 or accepts_it and 1024x768 or partner_opens_their_home"
	mkdir -p docs/screenshots
	cp $(SHOTS)/test_hq_opens_the_dashboard_and_sees_the_figures_and_charts-chromium-tablet-1024x768-1-dashboard.png docs/screenshots/hq-dashboard.png
	cp $(SHOTS)/test_clerk_orders_a_tv_from_another_store_and_that_store_accepts_it-chromium-tablet-1024x768-5-queue-offer.png docs/screenshots/clerk-queue.png
	cp $(SHOTS)/test_a_partner_opens_their_home_on_a_phone_and_sees_their_money-chromium-1-partner-home.png docs/screenshots/partner-home.png

# The OpenAPI schema is checked in (openapi/schema.yaml); regenerate it after changing the API.
# CI and tests/contract/test_schema.py fail when it drifts from the code.
schema: venv
	$(PY) manage.py spectacular --file openapi/schema.yaml --validate --fail-on-warn

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Every script in bench/ in turn (each makes, fills and drops its own PostgreSQL database on
# 127.0.0.1; BENCH_PG overrides the server): each prints a table and its ratio against a
# baseline measured in the same run; a failing script is named and fails the target at the end.
# Takes a while (the settlement data alone is minutes).
bench: venv
	@status=0; for script in bench/[!_]*.py; do \
		echo "== $$script"; \
		$(PY) $$script || { echo "!! $$script failed"; status=1; }; \
	done; exit $$status

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache
