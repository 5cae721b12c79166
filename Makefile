# Two commands a new user needs: `make demo` and `make test`. Both set up what they need:
# a virtual environment in .venv with the pinned packages, and Debian's ffmpeg when missing.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test test-cluster test-browser browser bench bench-docs bench-gpu bench-gpu-dry lint setup ffmpeg clean-results golden

setup: $(STAMP) ffmpeg

# Reinstalls only when pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "[setup] creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "[setup] installing the pinned packages into $(VENV) (pip install -e '.[dev]'; first time: torch and friends, a few minutes)"
	@$(BIN)/python -m pip install -e '.[dev]' > $(VENV)/pip.log 2>&1 \
	  || { tail -n 30 $(VENV)/pip.log; echo "[setup] pip failed; full log: $(VENV)/pip.log"; exit 1; }
	@grep -E '^Successfully installed' $(VENV)/pip.log || echo "[setup] nothing new to install"
	@touch $(STAMP)

ffmpeg:
	@bash tools/ensure-ffmpeg.sh

demo: setup
	$(BIN)/snakemake --cores $(CORES) --show-failed-logs

test: setup
	$(BIN)/python -m pytest -q

# The SLURM profile on a real one-node SLURM started for the test (root on Debian: installs
# slurm-wlm and munge when missing; nothing under /etc). A few minutes; `make test` skips it.
# `timeout` ends a hang; the test stops its daemons on that SIGTERM too.
test-cluster: setup
	EAO_TEST_CLUSTER=1 timeout 1800 $(BIN)/python -m pytest -q -rA -m cluster tests/test_cluster.py

# eao serve in headless Chromium on the tiny workflow's index (tests/test_serve_browser.py); root
# on Debian: installs chromium and chromium-driver when missing. `make test` runs it too when
# they are installed, and skips it with the reason otherwise. Screenshot: results/test-artifacts/.
test-browser: setup browser
	$(BIN)/python -m pytest -q -rA -m browser tests/test_serve_browser.py

browser:
	@bash tools/ensure-chromium.sh

# Records each stage's outputs on the tiny workflow beside its output version
# (tests/golden/stages.json), after a deliberate change of outputs and a bump in src/eao/versions.py.
golden: setup
	EAO_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py

# Speed measurements (results/bench/*.json), then bench-docs: BENCHMARKS.md's and
# docs/cluster.md's tables are generated from the JSONs, committed in bench/results/.
bench: setup
	$(BIN)/python bench/extraction.py --decode-only --end-to-end --out results/bench/extraction.json
	$(BIN)/python bench/training.py --config all --out results/bench/training.json
	$(BIN)/python bench/loader.py --out results/bench/loader.json
	$(BIN)/python bench/dag.py --out results/bench/dag.json
	$(BIN)/python bench/word2vec.py --out results/bench/word2vec.json
	$(BIN)/python bench/search.py --out results/bench/search.json
	$(BIN)/python bench/cost.py --out results/bench/cost.json
	$(BIN)/python tools/bench_docs.py --collect results/bench

# results/bench/*.json -> bench/results/ (committed), recost, regenerate the docs' tables
bench-docs: setup
	$(BIN)/python tools/bench_docs.py --collect results/bench

# every GPU measurement in one go (a GPU machine), and its CPU dry run on tiny inputs
bench-gpu: setup
	PYTHON=$(BIN)/python bench/gpu.sh

bench-gpu-dry: setup
	PYTHON=$(BIN)/python bench/gpu.sh --device cpu --tiny

# snakefmt's line length is pyproject.toml's [tool.snakefmt], ruff's too (100)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check workflow Snakefile
	$(BIN)/snakemake --lint

clean-results:
	find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf logs benchmarks .snakemake
