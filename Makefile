# The two commands of the README:
#   make demo   set everything up, run every notebook on the built-in demo data -> reports/YYYY-MM-DD/demo/
#   make test   set everything up (with test extras) and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test test-fast setup lab lint clean-venv

setup:
	@scripts/bootstrap.sh lab

demo: setup
	$(VENV)/bin/cjlab run --params demo --jobs 2

test:
	@scripts/bootstrap.sh test,lab,spark
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast:
	@scripts/bootstrap.sh test,lab,spark
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check cjlab tests benchmarks

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-venv:
	rm -rf $(VENV)
