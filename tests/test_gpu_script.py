"""bench/gpu.sh cannot rot: its CPU dry run (`--device cpu --tiny`) runs every step on tiny
inputs, writes the JSONs and renders the docs from them (into its own folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_script_dry_run(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", "bench/gpu.sh", "--device", "cpu", "--tiny"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "failed: none" in proc.stdout
    for name in ("extraction_gpu", "extraction_passes_gpu", "training_gpu", "ddp_gpu"):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["meta"]["command"].startswith("python bench/"), name
        assert data["baseline_is"], name
    training = json.loads((tmp_path / "training_gpu.json").read_text())
    assert {r["model"] for r in training["runs"]} == {"reference_fp32", "ours_fp32"}
    assert all(r["flops_per_step"] > 0 and r["mfu"] > 0 for r in training["runs"])
    docs = (tmp_path / "docs" / "BENCHMARKS.md").read_text()
    assert "python bench/training.py --device cpu --config tiny" in docs
    assert (tmp_path / "collected" / "cost.json").exists()
    # the repository's own docs and JSONs are untouched by a dry run
    subprocess.run(
        [sys.executable, "tools/bench_docs.py", "--check"], cwd=REPO, check=True, timeout=60
    )
