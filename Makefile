# The two commands of the README: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-sqlite typecheck install migrate seed lint format bench worker beat check-deploy clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

seed: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo

## make run: virtualenv, install, migrate, demo data, server on http://127.0.0.1:8000
run: seed
	@DEBUG=$${DEBUG:-1} $(PY) manage.py demo_logins
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

## make test: the whole suite (honours DATABASE_URL and CELERY_BROKER_URL)
test: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=$${DEBUG:-1} $(VENV)/bin/mypy
	DEBUG=$${DEBUG:-1} $(PY) -m pytest $(PYTEST_ARGS)

## make test-sqlite: the suite again on the SQLite fallback (no PostgreSQL, no Redis, eager tasks)
test-sqlite: install
	DEBUG=$${DEBUG:-1} DATABASE_URL= REDIS_URL= CELERY_BROKER_URL= $(PY) -m pytest $(PYTEST_ARGS)

## make typecheck: mypy with django-stubs over services and selectors
typecheck: install
	DEBUG=$${DEBUG:-1} $(VENV)/bin/mypy

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: benchmarks (PostgreSQL via DATABASE_URL), JSON lines on stdout
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

worker: install
	$(VENV)/bin/celery -A itsm worker -l info

beat: install
	$(VENV)/bin/celery -A itsm beat -l info

check-deploy: install
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-check-deploy-$$(date +%s)-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH} \
	  ALLOWED_HOSTS=$${ALLOWED_HOSTS:-itsm.example.org} $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var staticfiles
