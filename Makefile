# Two commands on a fresh clone:
#   make run    set up, migrate, import CONFIG_FILE, serve on HOST:PORT (127.0.0.1:8000),
#               printing the dashboard's URL and how to get a login
#   make test   set up, then the whole test suite
# Both create and reuse .venv by themselves: `make run` installs the runtime lock
# (requirements.txt, what production runs), `make test` the development lock
# (requirements-dev.txt: the same packages plus the test tools).
#   make lock   recompile both locks after editing requirements.in / requirements-dev.in

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# No setting needed: the embedded mode generates its SECRET_KEY in var/ on the first
# start, and its cookies work over plain http://127.0.0.1 without DEBUG.
# Every package comes from a lock that pins it with its hashes: a package that was
# not locked, or whose file changed, fails the install instead of slipping in.
PIP_INSTALL := $(BIN)/pip install --quiet --require-hashes

# Test processes (pytest-xdist): one per core. More than the cores was no faster on
# the 2-core machines this runs on, and timing tests failed (README, Development).
TEST_WORKERS ?= auto
# The integration tests start several real processes each (gunicorn, Celery worker
# and beat, a Redis server) and assert on timings: they run afterwards, one at a
# time, on a machine the rest of the suite no longer loads. (xdist_group marks
# cannot keep them on one worker: pytest-xdist 3.8's loadgroup renames node ids,
# which pytest 9.2 no longer lets it do, and the marks are silently ignored.)
SERIAL_TESTS := integration/
PYTEST := $(BIN)/python -m pytest

# pip-compile lives in a virtualenv of its own, so that .venv holds exactly the locks.
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2
PIP_COMPILE := $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links $(PIP_COMPILE_ARGS)

.PHONY: run test setup setup-dev migrate lock clean

setup: $(VENV)/.runtime-installed
setup-dev: $(VENV)/.dev-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# A stamp per lock: editing either file reinstalls what depends on it (the dev
# stamp depends on the runtime one, so a new runtime lock reaches the tests too).
$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

migrate: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: migrate
	$(BIN)/python manage.py import_config
	$(BIN)/python manage.py serve

# Both steps always run, and the target fails if either failed: a failure in the
# first does not hide the second's results.
test: setup-dev
	status=0; \
	$(PYTEST) -n $(TEST_WORKERS) $(addprefix --deselect ,$(SERIAL_TESTS)) || status=$$?; \
	$(PYTEST) $(SERIAL_TESTS) || status=$$?; \
	exit $$status

# The runtime lock first: the development lock is constrained by it (-c).
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) \
		&& $(LOCK_VENV)/bin/pip install --quiet $(PIP_TOOLS); }
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) $(LOCK_VENV) db.sqlite3 var
