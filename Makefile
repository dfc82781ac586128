# The README's commands. Everything a fresh Debian machine needs is installed from here.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PKGS_PDF := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils
PKGS_PG := postgresql

.PHONY: help demo test lint unit bench sbom lock sysdeps clean

help:
	@echo "make demo   scan an emulated AWS account and the local wallet, write reports"
	@echo "make test   lint, security lint and the test suite with coverage"
	@echo "make bench  benchmarks (ratios against a reference run)"
	@echo "make sbom   CycloneDX SBOM of the runtime dependencies (sbom.json)"
	@echo "make lock   re-resolve the hash-pinned lock files from pyproject.toml"

$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# Debian packages: pango for WeasyPrint's PDFs, poppler-utils (pdftoppm) for the tests that render the
# PDF's pages to images, PostgreSQL for the database tests.
sysdeps:
	@missing=""; \
	for p in $(PKGS_PDF) $(PKGS_PG); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "warning: apt-get not found; install$$missing by hand (PDF reports and PostgreSQL tests need them)"; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -ll -c pyproject.toml -r wallet compliance controls reports

unit: $(STAMP) sysdeps
	$(BIN)/pytest -n 2 --cov --cov-report=term -q

test: lint unit sbom

demo: $(STAMP) sysdeps
	$(BIN)/comply demo

bench: $(STAMP) sysdeps
	$(PY) -m bench

sbom: $(STAMP)
	$(BIN)/cyclonedx-py requirements --pyproject pyproject.toml -o sbom.json requirements.lock 2>/dev/null
	@echo "wrote sbom.json"

lock: $(STAMP)
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --extra test --extra demo \
	  -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .coverage htmlcov .pytest_cache .ruff_cache sbom.json
