# The two commands of the README:
#   make demo   set everything up, run every notebook on the built-in demo data -> reports/YYYY-MM-DD/demo/
#   make test   set everything up (with test extras) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test test-fast setup lab lint lock clean-venv

setup:
	@scripts/bootstrap.sh lab

demo: setup
	$(VENV)/bin/cjlab run --params demo --jobs 2

test:
	@scripts/bootstrap.sh test,lab,spark
	$(PY) -m pytest -n 2 --dist loadgroup --durations=30 $(PYTEST_ARGS)

test-fast:
	@scripts/bootstrap.sh test,lab,spark
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check cjlab tests benchmarks

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-venv:
	rm -rf $(VENV) .tools

# Refresh the lock after changing dependencies in pyproject.toml (then commit uv.lock and
# requirements-lock.txt); `make lock UPGRADE=1` also moves every package to its newest release.
lock:
	scripts/uv.sh lock $(if $(UPGRADE),--upgrade,)
	scripts/uv.sh export --frozen --no-hashes --no-emit-project --extra lab --extra test --extra spark \
	  -q -o requirements-lock.txt
