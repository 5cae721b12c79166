"""The workflow as a user who cloned the repository runs it: a copy of its Snakefile,
config.yaml and workflow/ (and the default profile beside them), `snakemake` run inside it, so
the Snakefile's `configfile: "config.yaml"` is loaded and a user's `--configfile` merges into
it. (A test run with `--directory` elsewhere loads no config.yaml and misses what that merge
does.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "config.yaml", "workflow", "profiles", "envs"]


def clone(dest: Path) -> Path:
    """`dest` holding the repository's workflow files (what a clone has beside src/)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`snakemake ARGS` in `workdir`, with this interpreter (the venv's snakemake and eao)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
