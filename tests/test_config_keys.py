"""Every setting that can change an output is part of its job's recorded params: one dry run per
key of the config schema, against a finished tiny run, reruns exactly the rules the schema's
`x-reruns` names for that key (and, through snakemake, what depends on them)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from config_keys import (
    MAP_ENTRY,
    NEW_RULES,
    REFUSED,
    changed_value,
    current_value,
    dry_run_jobs,
    load_schema,
    prepare_files,
    rerun_roots,
    schema_keys,
    with_value,
)
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
KEYS = dict(schema_keys(load_schema()))

pytestmark = pytest.mark.slow


def dry_run(workdir: Path, config: dict, name: str, refused: bool = False) -> str:
    """The dry run's output; `refused`: it must stop (exit 1), and its last line is returned."""
    path = workdir / "overlays" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(path),
        "--cores",
        "2",
        "-n",
        "--nolock",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != (1 if refused else 0):
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise AssertionError(f"{name}: dry run {'not refused' if refused else 'failed'}:\n{tail}")
    return proc.stderr.rstrip("\n").splitlines()[-1] if refused else proc.stdout


def effective(config: dict) -> dict:
    """The config with the schema's defaults filled in, as the workflow sees it."""
    filled = yaml.safe_load(yaml.safe_dump(config))
    validate(filled, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return filled


def per_entry(path: tuple[str, ...]) -> str | None:
    """The dataset a key of a per-dataset map belongs to (its jobs must be that dataset's)."""
    if path[:1] == ("datasets",):
        return path[1]  # youcook2, or the imported dataset
    for prefix, entry in MAP_ENTRY.items():
        if path[: len(prefix)] == prefix and prefix != ("ablations", "variants"):
            return entry
    return None


@pytest.fixture(scope="module")
def observed(tiny_run: Path) -> dict[tuple[str, ...], list[dict]]:
    """Every key's changed overlay, dry-run (two at a time: a dry run keeps a core busy)."""
    prepare_files(tiny_run)
    tiny = yaml.safe_load(TINY.read_text())
    full = effective(tiny)
    assert "Nothing to be done" in dry_run(tiny_run, tiny, "unchanged")

    def run(path: tuple[str, ...]) -> tuple[tuple[str, ...], list[dict] | str]:
        value = changed_value(path, KEYS[path], current_value(full, path, KEYS[path]))
        changed, name = with_value(tiny, path, value), ".".join(path)
        if path in REFUSED:  # the config error's line
            return path, dry_run(tiny_run, changed, name, refused=True)
        return path, rerun_roots(dry_run_jobs(dry_run(tiny_run, changed, name)))

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        return dict(pool.map(run, KEYS))


def test_the_schema_says_what_every_key_reruns():
    schema = load_schema()
    assert len(KEYS) > 140
    unannotated = [".".join(p) for p, node in schema_keys(schema) if node.get("x-reruns") is None]
    assert not unannotated
    text = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert text.count("x-reruns:") >= 120  # written on the keys, not derived by the test


@pytest.mark.parametrize("path", list(KEYS), ids=[".".join(p) for p in KEYS])
def test_changing_a_key_reruns_exactly_its_rules(observed, path):
    if path in REFUSED:  # refused for the tiny config: the one line naming the key
        assert observed[path] == REFUSED[path]
        return
    roots = observed[path]
    expected = set(KEYS[path]["x-reruns"]) | set(NEW_RULES.get(path, []))
    assert sorted({j["rule"] for j in roots}) == sorted(expected), roots
    entry = per_entry(path)
    if entry:  # a per-dataset setting reruns that dataset's jobs only
        others = [j for j in roots if j["wildcards"].get("dataset", entry) != entry]
        assert not others, others


def test_real_weights_after_the_demo_rerun_the_shards_models_and_tables(tiny_run):
    """The reported case: pretrained ResNet-152 weights put in after a random-weights run."""
    tiny = yaml.safe_load(TINY.read_text())
    changed = with_value(tiny, ("features", "resnet152", "weights"), "IMAGENET1K_V1")
    jobs = dry_run_jobs(dry_run(tiny_run, changed, "resnet152_imagenet"))
    rules = {j["rule"] for j in jobs}
    assert {j["rule"] for j in rerun_roots(jobs)} == {"extract_media"}
    assert sum(j["rule"] == "extract_media" for j in jobs) == 6  # every shard of every dataset
    downstream = {"pretrain", "finetune", "evaluate_retrieval", "evaluate_localization", "tables"}
    assert downstream <= rules
    assert not rules & {"probe", "extract_text"}
