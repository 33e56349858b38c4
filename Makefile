# Everyday commands. `make demo` runs the whole product locally; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A Python >= 3.12 (Django 6 needs it): the first one found on PATH or under pyenv.
PYTHON ?= $(shell for c in python3.14 python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.1[234]*/bin/python3 /root/.pyenv/versions/3.1[234]*/bin/python3; do \
	if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$c; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

DEMO_ENV := PIMSY_DEMO=1 \
	TWILIO_API_BASE=http://127.0.0.1:8025 \
	FAX_API_BASE=http://127.0.0.1:8026 \
	EMAIL_HOST=127.0.0.1 EMAIL_PORT=8027 \
	SIM_TWILIO_URL=http://127.0.0.1:8025 SIM_FAX_URL=http://127.0.0.1:8026 SIM_SMTP_CONTROL_URL=http://127.0.0.1:8028 \
	PUBLIC_BASE_URL=http://127.0.0.1:8000

.PHONY: help venv demo test lint format migrate bench clean

help:
	@echo "make demo    - set up and run the whole product at http://127.0.0.1:8000 (login demo / demo)"
	@echo "make test    - set up and run the test suite (SQLite by default; see README for PostgreSQL/Redis)"
	@echo "make lint    - ruff check + format check"
	@echo "make format  - ruff format + fixes"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python >= 3.12 found (Django 6 needs it). Install one, or run: make PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py seed_demo
	$(DEMO_ENV) $(PY) manage.py seed_demo_languages
	$(DEMO_ENV) $(PY) manage.py seed_demo_portal
	$(DEMO_ENV) $(PY) manage.py seed_demo_scheduled
	$(DEMO_ENV) $(PY) manage.py seed_demo_staff
	$(DEMO_ENV) $(PY) manage.py seed_demo_activity
	@echo ""
	@echo "  PIMSY Messaging demo: http://127.0.0.1:8000   login: demo / demo   (Ctrl-C stops everything)"
	@echo "  Staff logins by role (front desk, clinician, privacy officer, messaging admin) listed above"
	@echo "  Client portal: http://127.0.0.1:8000/portal/   logins listed above (password portal-demo-2026)"
	@echo ""
	$(DEMO_ENV) $(VENV)/bin/honcho -f Procfile.demo start

test: venv
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

migrate: venv
	$(PY) manage.py migrate

clean:
	rm -rf var/broker var/*.sqlite3* var/staticfiles
