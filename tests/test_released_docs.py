"""The configs docs/benchmarks.md documents run as a user runs them: in a copy of the
repository (its Snakefile, config.yaml and workflow/: tests/repo_clone.py), the config file
written beside them and passed with --configfile, so config.yaml is merged under it.

"Check the paper's numbers from the released checkpoint and features": its config and commands,
run as written on generated files of the released layouts (EAO's youcook_val.pkl and
msrvtt_jsfusion_test.pkl, a DataParallel latest_model.pth, a GoogleNews-format word2vec binary)
at the paths the page names, end in Table 1 with our numbers. "Evaluating the released EAO
checkpoint on your own features": its config's dry run schedules every stage, on stand-in
files at its paths."""

from __future__ import annotations

import csv
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from entry_files import released_items, write_released, write_word2vec
from repo_clone import clone, snakemake

from eao.model import EverythingAtOnce, ModelConfig

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Check the paper's numbers from the released checkpoint and features"
OWN_FEATURES = "## Evaluating the released EAO checkpoint on your own features"
# the released model's shapes: ResNet-152 + ResNeXt-101 video (4096), word2vec text (here 8-d)
CFG = ModelConfig(
    video_dim=4096,
    text_dim=8,
    width=64,
    heads=1,
    proj_dim=32,
    audio_channels=(8, 8, 16, 16, 32, 32, 64),
)

pytestmark = pytest.mark.slow


def section_of(heading: str) -> str:
    text = (REPO / "docs" / "benchmarks.md").read_text()
    return text[text.index(heading) :].split("\n## ", 1)[0]


def page_blocks() -> tuple[str, list[str]]:
    """The section's YAML config and its shell commands."""
    section = section_of(SECTION)
    config = re.search(r"```yaml\n(.*?)```", section, re.S)[1]
    commands = re.search(r"```bash\n(.*?)```", section, re.S)[1].strip().splitlines()
    return config, commands


def msrvtt_items(seed: int) -> list[dict]:
    """msrvtt_jsfusion_test.pkl's layout: `2d`, `3d`, `audio`, `eval_caption`."""
    items, _ = released_items(seed)
    return [
        {
            "id": f"video{i}",
            "2d": it["2d_full"],
            "3d": it["3d_full"],
            "audio": it["audio"],
            "eval_caption": it["caption"],
        }
        for i, it in enumerate(items)
        if "2d_full" in it
    ]


def official_checkpoint(path: Path) -> None:
    torch.manual_seed(0)
    state = EverythingAtOnce(CFG).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "arch": "DataParallel",
            "epoch": 15,
            "state_dict": {f"module.{k}": v for k, v in state.items()},
        },
        path,
    )


def released_files(root: Path, config: str) -> None:
    """Every file the page's config names, under `root` instead of `/`."""
    youcook = Path(re.search(r"resnet: /(\S*youcook_val\.pkl)", config)[1])
    msrvtt = Path(re.search(r"resnet: /(\S*msrvtt_jsfusion_test\.pkl)", config)[1])
    checkpoint = Path(re.search(r"checkpoint: /(\S+)", config)[1])
    vectors = Path(re.search(r"word2vec: .*weights: /([^,}\s]+)", config)[1])
    written = write_released(root / youcook.parent)
    written["resnet"].rename(root / youcook)
    (root / msrvtt).parent.mkdir(parents=True, exist_ok=True)
    (root / msrvtt).write_bytes(pickle.dumps(msrvtt_items(1), protocol=4))
    official_checkpoint(root / checkpoint)
    (root / vectors).parent.mkdir(parents=True, exist_ok=True)
    write_word2vec(root / vectors, ["add", "the", "eggs", "fry", "onions", "stir", "rice"])


def run_command(line: str, workdir: Path) -> None:
    """A command of the page, run in the clone as typed there (snakemake on our cores)."""
    argv = shlex.split(line)
    if argv[0] == "eao":
        command = [os.path.join(os.path.dirname(sys.executable), "eao"), *argv[1:]]
        proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    else:
        assert argv[0] == "snakemake", line
        argv[argv.index("--cores") + 1] = "2"
        proc = snakemake(workdir, *argv[1:], timeout=1200)
    output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{line}\n{output}"
    assert "Exception" not in proc.stdout + proc.stderr, f"{line}\n{output}"


def test_the_pages_commands_end_in_table1(tmp_path: Path):
    config, commands = page_blocks()
    assert any(c.startswith("eao import-checkpoint") for c in commands)
    assert commands[-1].startswith("snakemake tables ")
    data = tmp_path / "root"
    released_files(data, config)
    workdir = clone(tmp_path / "clone")
    (workdir / "released.yaml").write_text(config.replace(" /", f" {data}/"))
    for line in commands:
        run_command(line.replace(" /", f" {data}/"), workdir)

    with open(workdir / "results" / "tables" / "table1_zeroshot_retrieval.csv") as f:
        cells = list(csv.DictReader(f))
    for row in ("Ours (t→va)", "Ours (tva model, t→v)"):
        for dataset in ("youcook2", "msrvtt"):
            cell = next(
                c
                for c in cells
                if c["row"] == row and c["dataset"] == dataset and c["metric"] == "R10"
            )
            assert cell["ours"] != "", cell
    notes = (workdir / "results" / "tables" / "table1_zeroshot_retrieval.md").read_text()
    assert "resnet152 (released)" in notes and "RANDOM" not in notes


def stand_in_files(config: dict, root: Path) -> None:
    """A file (a folder for a data root) at every absolute path the config names, under `root`;
    a videos CSV gets two videos, so the dry run plans a shard."""
    for key, value in config.items():
        if isinstance(value, dict):
            stand_in_files(value, root)
        elif isinstance(value, str) and value.startswith(str(root)):
            path = Path(value)
            if key == "root":
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("video_id,path\nv0,v0.mp4\nv1,v1.mp4\n" if key == "videos" else "")


def test_the_own_features_config_schedules_every_stage(tmp_path: Path):
    """The config of "Evaluating the released EAO checkpoint on your own features", run as its
    first line says, in a dry run: no exception, and the imported model evaluated."""
    text = re.search(r"```yaml\n(.*?)```", section_of(OWN_FEATURES), re.S)[1]
    name, command = re.match(r"# (\S+\.yaml): (snakemake .*)\n", text).groups()
    data = tmp_path / "root"
    text = text.replace(" /", f" {data}/")
    stand_in_files(yaml.safe_load(text), data)
    workdir = clone(tmp_path / "clone")
    (workdir / name).write_text(text)
    argv = shlex.split(command)[1:]
    argv[argv.index("--cores") + 1] = "2"
    proc = snakemake(workdir, "-n", *argv)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Exception" not in output
    jobs = ["import_checkpoint", "extract_media", "convert_word2vec", "evaluate_retrieval"]
    jobs += ["evaluate_localization", "tables"]
    assert all(f"rule {job}:" in output for job in jobs), output
    assert "rule pretrain:" not in output  # the main model is the released one
