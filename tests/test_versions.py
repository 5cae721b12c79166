"""Output versions decide what an upgrade reruns (eao.versions): on the finished tiny workflow,
bumping one stage's version schedules exactly what `--forcerun` of that stage schedules (its
jobs and everything downstream), and a change that moves no output schedules nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_workflow import TINY, jobs_scheduled

from eao.versions import OUTPUT_VERSIONS

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# Snakemake's CLI with eao patched first: the DAG build (a dry run) sees the patched code.
# A backbone's (features.<name>) or text encoder's (text.<name>) version is its spec's: the
# registry's cached spec is replaced.
PATCHED = (
    "import dataclasses, sys, eao, eao.versions as v, eao.backbones.registry as r\n"
    "for change in sys.argv.pop(1).split(','):\n"
    "    if change == 'package': eao.__version__ = '99.0.0'\n"
    "    elif change.startswith('features.'):\n"
    "        name = change.removeprefix('features.'); spec = r.backbones()[name]\n"
    "        r.backbones()[name] = dataclasses.replace(spec, version=spec.version + 1)\n"
    "    elif change.startswith('text.'):\n"
    "        name = change.removeprefix('text.'); spec = r.text_encoders()[name]\n"
    "        r.text_encoders()[name] = dataclasses.replace(spec, version=spec.version + 1)\n"
    "    elif change: v.OUTPUT_VERSIONS[change] += 1\n"
    "from snakemake.cli import main\n"
    "main()\n"
)

# The rules whose jobs record each key; text.<encoder> is recorded per job (by wildcard).
RULES = {
    "demo": ["demo_world"],
    "manifest": ["manifest"],
    "probe": ["probe"],
    "import": ["import_manifest", "import_features"],
    "failures": ["failures"],
    "word2vec": ["convert_word2vec"],
    "pretrain": ["pretrain"],
    "import_checkpoint": ["import_checkpoint"],
    "finetune": ["finetune"],
    "retrieval": ["evaluate_retrieval"],
    "localization": ["evaluate_localization"],
    "index": ["index"],
    "tables": ["tables"],
    "report": ["report_figures"],
}


def dry_run(workdir: Path, change: str, *args: str) -> dict[str, int]:
    cmd = [
        sys.executable,
        "-c",
        PATCHED,
        change,
        "-n",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(TINY),
        "--cores",
        "2",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return jobs_scheduled(proc.stdout) if "Job stats:" in proc.stdout else {}


def forcerun_targets(workdir: Path, key: str) -> list[str]:
    """What `--forcerun` takes for the jobs recording `key`: rule names, or for one text encoder
    its shard files (one rule extracts every encoder)."""
    if key.startswith("features."):
        return ["extract_media"]
    if key.startswith("text."):
        folder = f"text_{key.removeprefix('text.')}"
        shards = sorted((workdir / "results/features" / folder).glob("*/shard-*.parquet"))
        return [str(p.relative_to(workdir)) for p in shards]
    return RULES[key]


# One key per recording rule: the features.* keys reach their pass through one dict param
# (test_workflow_adapters.py checks it holds the pass's backbones'), text.* through one
# function of the encoder wildcard. convert_word2vec and import_checkpoint have no job in the tiny
# run: that they record their versions is test_workflow_adapters.py's check of every rule.
BUMPED = [k for k in OUTPUT_VERSIONS if k in RULES] + ["features.resnet152", "text.hf"]
NOT_IN_TINY = {"word2vec", "import_checkpoint"}


@pytest.mark.parametrize("key", [k for k in BUMPED if k not in NOT_IN_TINY])
def test_bumping_a_version_reruns_its_stage_and_what_follows(tiny_run, key):
    bumped = dry_run(tiny_run, key)
    assert bumped, f"bumping {key} reran nothing"
    assert bumped == dry_run(tiny_run, "", "--forcerun", *forcerun_targets(tiny_run, key))


def test_a_change_that_moves_no_output_reruns_nothing(tiny_run):
    """The package's own version (once every rule's code_version) is recorded nowhere."""
    assert dry_run(tiny_run, "package") == {}
