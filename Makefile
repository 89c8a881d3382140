# Two commands on a fresh clone:
#   make run    set up, migrate, import CONFIG_FILE, serve on HOST:PORT (127.0.0.1:8000),
#               printing the dashboard's URL and how to get a login
#   make test   set up, then the whole test suite
# Both create and reuse .venv from requirements.txt by themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# No setting needed: the embedded mode generates its SECRET_KEY in var/ on the first
# start, and its cookies work over plain http://127.0.0.1 without DEBUG.

.PHONY: run test setup migrate clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: migrate
	$(BIN)/python manage.py import_config
	$(BIN)/python manage.py serve

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) db.sqlite3 var
