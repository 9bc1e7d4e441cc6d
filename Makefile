# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   - create the virtual environment, install kerasemo, run the main job (distill on the
#                 embedded synthetic corpus)
#   make test   - create the virtual environment, install kerasemo with the test, tflite, acoustic
#                 and beam extras (every test path runs), run the tests
# Releasing:
#   make wheel        - build the wheel into dist/
#   make wheel-check  - only the test that installs a built wheel (not editable) in a fresh
#                       environment and runs the `kerasemo` command from outside the checkout
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test benchmark install wheel wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[test,tflite,acoustic,beam]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -m kerasemo.experiments.distill

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

benchmark: install
	$(BIN)/python -m kerasemo.experiments.benchmark

wheel: | $(BIN)/python
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

wheel-check: install
	$(BIN)/python -m pytest tests/test_install.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
