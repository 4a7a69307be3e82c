# crowdsim — set-up and common jobs. Every target creates .venv from pyproject.toml if missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Find a Python 3.12+ by itself: python3.13, python3.12, python3 if new enough, then pyenv installs.
define find_python
for c in python3.13 python3.12 python3; do \
  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
    command -v $$c; exit 0; fi; \
done; \
root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
for c in $$root/versions/3.13*/bin/python3 $$root/versions/3.12*/bin/python3; do \
  if [ -x "$$c" ] && "$$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
    echo $$c; exit 0; fi; \
done; \
echo "error: crowdsim needs Python 3.12 or newer (Mesa 3.5); none found on PATH or under pyenv" >&2; exit 1
endef

N_SEEDS ?= 5
N_WORKERS ?= 20000
DAYS ?= 28
OUT ?= results/demo

.PHONY: venv demo test test-all bench lint app clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; \
	if [ ! -x $(PY) ]; then \
	  PYBIN=$$( $(find_python) ); \
	  echo "creating $(VENV) with $$PYBIN ($$($$PYBIN --version))"; \
	  $$PYBIN -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet --upgrade pip; \
	$(PY) -m pip install --quiet -e '.[dev]'; \
	$(PY) -m crowdsim.viz.assets >/dev/null || echo "warning: the browser app's front-end files were not installed (needs npm); see docs/students.md" >&2; \
	touch $(STAMP)

# The main job: compare the main regulation scenarios (status_quo, mturk_2014, prolific_like,
# transparency, appeals, payment_guarantee, min_pay, commission_cap, fairwork,
# eu_platform_work_directive) over N_SEEDS common seeds, at 20,000 workers (the size the model is
# calibrated at), each measured over DAYS days after a 42-day warm-up, in the long run (the rule
# from day 0) and in the short run (the status quo, then the rule): 90 runs, the 40 short ones
# starting from their seed's warm-up, simulated once (sim.share_warmup), which the status quo's
# long run of each seed starts from too. Measured from a fresh clone on an idle 2-core machine:
# 2 min 42 s of wall time (4 min 56 s of CPU), 28x one 20,000-worker x 70-day status-quo command
# (5.7 s) timed back to back; finished runs are reused when the command is repeated.
DEMO_SCENARIOS ?= main

demo: $(STAMP)
	@$(VENV)/bin/crowdsim-compare --scenarios $(DEMO_SCENARIOS) --seeds $(N_SEEDS) --workers $(N_WORKERS) --days $(DAYS) --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

test-all: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m ''

bench: $(STAMP)
	$(PY) benchmarks/bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check crowdsim tests benchmarks
	$(VENV)/bin/ruff format --check crowdsim tests benchmarks

app: $(STAMP)
	$(VENV)/bin/crowdsim-app

clean-venv:
	rm -rf $(VENV)
