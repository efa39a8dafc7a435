# Build/test entry points. `make test` is what CI runs (through .ci/run).
#
# .venv is created on first use with a Python >= 3.12, found portably (see FIND_PYTHON);
# override with `make PYTHON=/path/to/python3`. Installs are stamped against
# pyproject.toml, so repeated runs skip pip until pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

VENV := .venv
VPY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.stamp-test
STAMP_BASE := $(VENV)/.stamp-base
PYTHON ?=

# Prints the first interpreter that actually runs and reports >= 3.12. pyenv shims exist
# for versions that are not selected and fail when run, hence the run check, not `command -v`.
define FIND_PYTHON
ok() { "$$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }; \
if [ -n "$(PYTHON)" ]; then \
  if ok "$(PYTHON)"; then echo "$(PYTHON)"; exit 0; fi; \
  echo "PYTHON=$(PYTHON) does not run or is older than 3.12" >&2; exit 1; \
fi; \
for c in python3.12 python3.13 python3; do \
  if command -v "$$c" >/dev/null 2>&1 && ok "$$c"; then echo "$$c"; exit 0; fi; \
done; \
if command -v pyenv >/dev/null 2>&1; then \
  root="$$(pyenv root)"; \
  for c in "$$root"/versions/3.12*/bin/python3 "$$root"/versions/3.13*/bin/python3; do \
    if [ -x "$$c" ] && ok "$$c"; then echo "$$c"; exit 0; fi; \
  done; \
fi; \
echo "need Python >= 3.12: install it or set PYTHON=/path/to/python3" >&2; exit 1
endef

.PHONY: venv demo test lint unit system clean-venv

$(VPY):
	@py="$$( $(FIND_PYTHON) )"; \
	echo "creating $(VENV) with $$py ($$("$$py" -c 'import sys; print(sys.version.split()[0])'))"; \
	"$$py" -m venv $(VENV)

# compileall: this machine sets PYTHONDONTWRITEBYTECODE, so without it every command would
# recompile the project's sources at start-up (stale .pyc files are ignored by Python).
$(STAMP_BASE): pyproject.toml | $(VPY)
	$(VENV)/bin/pip install -q -e .
	$(VPY) -m compileall -q alebuild rules >/dev/null
	@touch $@

$(STAMP_TEST): pyproject.toml | $(VPY)
	$(VENV)/bin/pip install -q -e '.[test]'
	$(VPY) -m compileall -q alebuild rules >/dev/null
	@touch $@ $(STAMP_BASE)

venv: $(STAMP_TEST)

demo: $(STAMP_BASE)
	$(VENV)/bin/alebuild //experiments:demo

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check alebuild rules tests bench
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest -q

unit: $(STAMP_TEST)
	$(VENV)/bin/pytest -q tests/unit

system: $(STAMP_TEST)
	$(VENV)/bin/pytest -q tests/system

clean-venv:
	rm -rf $(VENV)
