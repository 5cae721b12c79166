"""docs/extending.md, followed literally: its `file:` code blocks (a backbone module, its test,
a config entry, a variant) are written into a copy of the repository, and the workflow runs on
a copy of the finished tiny run with them. Adding the backbone touches only those files; as a
pass of its own it is extracted alone, and a variant trains on it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from config_keys import dry_run_jobs

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
DOC = REPO / "docs" / "extending.md"
PARTS = ["src", "Snakefile", "config.yaml", "workflow", "profiles", "envs"]
BLOCK = re.compile(r"```\w*\n# file: (\S+)\n(.*?)```", re.S)
MODULE, TEST = "src/eao/backbones/mean_colour.py", "tests/test_mean_colour.py"
CONFIG, VARIANT = "config/mean_colour.yaml", "config/mean_colour_variant.yaml"
# the new pass, the gathered failures tables, and the target rule
EXTRACTED = {"extract_colour", "failures", "all"}

pytestmark = pytest.mark.slow


def doc_files() -> dict[str, str]:
    return {path: text for path, text in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with the page's files written into it."""
    root = tmp_path_factory.mktemp("extending") / "repo"
    for part in PARTS:
        src = REPO / part
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(src, root / part, ignore=ignore)
        else:
            shutil.copy(src, root / part)
    before = tree_hashes(root)
    for path, text in doc_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    after = tree_hashes(root)
    root.joinpath("touched.txt").write_text("\n".join(sorted(set(after) ^ set(before))))
    assert {p for p in before if before[p] != after.get(p)} == set()  # nothing edited
    return root


def env(clone: Path) -> dict[str, str]:
    """The clone's package ahead of the installed one, for snakemake and its jobs."""
    return {**os.environ, "PYTHONPATH": str(clone / "src")}


def run_snakemake(
    clone: Path, workdir: Path, configs: list[str], *args: str, tiny: Path = TINY
) -> subprocess.CompletedProcess:
    """snakemake on `workdir` with the clone's workflow and package; `configs` (paths in the
    clone) over the tiny config."""
    files = [str(tiny), *(str(clone / c) for c in configs)]
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(clone / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "2", "--configfile", *files, *args]
    return subprocess.run(cmd, env=env(clone), capture_output=True, text=True, timeout=900)


def snakemake(clone: Path, workdir: Path, configs: list[str], *args: str, **kw) -> str:
    proc = run_snakemake(clone, workdir, configs, *args, **kw)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def extended(clone: Path, tiny_run: Path, tmp_path_factory) -> tuple[Path, list[dict]]:
    """A copy of the finished tiny run (outputs, their metadata and times kept) with the new
    backbone's pass run on it, and what the dry run before that planned."""
    workdir = tmp_path_factory.mktemp("extending_run") / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True, ignore=shutil.ignore_patterns("shadow"))
    planned = dry_run_jobs(snakemake(clone, workdir, [CONFIG], "-n"))
    snakemake(clone, workdir, [CONFIG])
    return workdir, planned


def test_adding_a_backbone_is_three_new_files(clone):
    touched = set(clone.joinpath("touched.txt").read_text().split())
    assert touched - {VARIANT} == {MODULE, TEST, CONFIG}


def test_the_backbones_own_test_passes(clone):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(clone / TEST)]
    proc = subprocess.run(cmd, cwd=clone, env=env(clone), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_a_new_pass_extracts_the_new_backbone_alone(clone, extended):
    workdir, planned = extended
    assert {j["rule"] for j in planned} == EXTRACTED
    shard = workdir / "results/features/mean_colour/youcook2/shard-00000.parquet"
    table = pq.read_table(shard)
    assert table.schema.metadata[b"table"] == b"features/mean_colour" and table.num_rows > 0
    assert "Nothing to be done" in snakemake(clone, workdir, [CONFIG], "-n")
    # a setting of a backbone of the default pass reruns that pass only, not the new one
    (clone / "config/seed.yaml").write_text("features:\n  resnet152: {seed: 1}\n")
    seeded = snakemake(clone, workdir, [CONFIG, "config/seed.yaml"], "-n")
    rules = {j["rule"] for j in dry_run_jobs(seeded)}
    assert "extract_media" in rules and "extract_colour" not in rules


def test_a_variant_trains_on_the_new_backbone(clone, extended):
    """The tiny config less its imported benchmark: released features hold no mean colour, and
    a variant evaluated on them is refused (checked here too)."""
    workdir, _ = extended
    refused = run_snakemake(clone, workdir, [CONFIG, VARIANT], "-n")
    assert refused.returncode == 1 and "released hold no mean_colour" in refused.stderr
    tiny = yaml.safe_load(TINY.read_text())
    del tiny["datasets"]["released"], tiny["evaluate"]["retrieval"]["released"]
    local = clone / "config/tiny_local.yaml"
    local.write_text(yaml.safe_dump(tiny))
    planned = dry_run_jobs(snakemake(clone, workdir, [CONFIG, VARIANT], "-n", tiny=local))
    rules = {j["rule"] for j in planned}
    assert "pretrain" in rules and not any(r.startswith("extract_") for r in rules)
    trained = {j["wildcards"].get("variant") for j in planned if j["rule"] == "pretrain"}
    assert trained == {"colour"}
