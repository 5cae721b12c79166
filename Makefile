# Two commands a new user needs: `make demo` and `make test`. Both set up what they need:
# a virtual environment in .venv with the pinned packages, and Debian's ffmpeg when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test bench lint setup ffmpeg clean-results

setup: $(STAMP) ffmpeg

# Reinstalls only when pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "[setup] creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "[setup] installing the pinned packages into $(VENV) (pip install -e '.[dev]'; first time: torch and friends, a few minutes)"
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

ffmpeg:
	@bash tools/ensure-ffmpeg.sh

demo: setup
	$(BIN)/snakemake --cores $(CORES) --show-failed-logs

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean-results:
	rm -rf results/demo_world results/manifest results/probe results/failures logs benchmarks .snakemake
