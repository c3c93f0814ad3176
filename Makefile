# PowderLab: the two commands are `make sim` (run the lab in the twin) and `make test`.
# Both run `setup` first; setup is idempotent and does nothing when nothing changed.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

# Keep DDS discovery on this machine (it otherwise multicasts onto the LAN).
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export RMW_IMPLEMENTATION ?= rmw_fastrtps_cpp
export OMP_NUM_THREADS ?= 1
# Check every ROS message field's type (Jazzy skips it by default; a wrong type corrupts data).
export ROS_PYTHON_CHECK_FIELDS ?= 1
export PYTHONDONTWRITEBYTECODE ?=

.PHONY: setup sim test lint format lock bench clean system-deps

setup: $(VENV)/.deps-installed system-deps interfaces $(VENV)/.powderlab-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps-installed: requirements.lock tools/pip.lock | $(BIN)/python
	$(BIN)/python -m pip install -qq --require-hashes -r tools/pip.lock
	$(BIN)/python -m pip install -qq --require-hashes -r requirements.lock
	touch $@

# Debian packages some tests need (installed only when missing): see tools/system_deps.sh.
system-deps:
	@tools/system_deps.sh

interfaces: $(VENV)/.deps-installed
	@$(BIN)/python tools/build_interfaces.py

$(VENV)/.powderlab-installed: setup.py setup.cfg package.xml $(VENV)/.deps-installed
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

sim: setup
	$(BIN)/powderlab sim

test: setup
	$(BIN)/ruff check src tests bench tools launch
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench tools launch

format: setup
	$(BIN)/ruff format src tests bench tools launch

# Recompile the hash-pinned lock after editing requirements.in (needs pip-tools).
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -c constraints.txt \
		-o requirements.lock requirements.in

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build ros2_ws/build ros2_ws/install ros2_ws/log
