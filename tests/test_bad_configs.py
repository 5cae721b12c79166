"""Bad configs stop the workflow before any job, each with one line, `Invalid config at <key>:
<why>`, the last of the output, and exit status 1; good ones build their DAG printing no
exception. Run the way a user runs the workflow (tests/repo_clone.py): `snakemake -n
--configfile mine.yaml` in a copy of the repository, so config.yaml is merged under the user's
file. Dry runs only (the demo's shard counts come from its plan), two at a time."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from entry_files import write_released
from repo_clone import REPO, clone, snakemake

IMPORTED = {"resnet": "released/youcook_val.pkl", "split": "validation"}
NO_FINETUNE = {"variants": []}
# id -> (the user's config file, the one line it ends in)
BAD = {
    "unknown key": (
        {"probe": {"decode_chek": False}},
        "Invalid config at probe: Additional properties are not allowed ('decode_chek' was "
        "unexpected). Keys and types: workflow/schemas/config.schema.yaml (README: "
        "Configuration).",
    ),
    "imported and videos": (
        {"datasets": {"youcook2": {"imported": IMPORTED, "videos": "v.csv", "root": "."}}},
        "Invalid config at datasets.youcook2: imported replaces videos, root and captions "
        "(remove videos, root)",
    ),
    "no dataset": (
        {"demo": {"enabled": False}},
        "Invalid config at datasets: no dataset (name yours under datasets:, or set "
        "demo.enabled: true for the demo world's)",
    ),
    "unknown pretrain.dataset": (
        {"pretrain": {"dataset": "hwoto"}},
        "Invalid config at pretrain.dataset: unknown dataset 'hwoto' (the config's datasets: "
        "crosstask, howto, mining_youtube, msrvtt, youcook2)",
    ),
    "corpus needed but absent": (
        {
            "demo": {"enabled": False},
            "datasets": {"youcook2": {"imported": {**IMPORTED, "s3d": "released/s3d.pkl"}}},
            "pretrain": {"checkpoint": "latest_model.pth"},
            "finetune": NO_FINETUNE,
        },
        "Invalid config at pretrain.dataset: unknown dataset 'howto' (the config's datasets: "
        "youcook2), and tv, s3d, no_transformer, per_modality, no_comb, shared_proj, cls_token, "
        "pos_emb, rope, aligned_text_audio, no_loss_weighting would be pretrained on it",
    ),
    "variant choice": (
        {"ablations": {"variants": {"s3d": {"pretrain": {"video_2d": None, "video_3d": "i3d"}}}}},
        "Invalid config at ablations.variants.s3d.pretrain.video_3d: 'i3d' is not one of "
        "['resnext101', 's3d', None]",
    ),
    "variant type": (
        {"ablations": {"variants": {"rope": {"model": {"positional": "rope", "depth": -1}}}}},
        "Invalid config at ablations.variants.rope.model.depth: -1 is less than the minimum of 0",
    ),
    "unknown variant run": (
        {"ablations": {"run": ["tv", "nope"]}},
        "Invalid config at ablations.run: nope not in ablations.variants",
    ),
    "variant backbone disabled": (
        {"features": {"s3d": {"enabled": False}}},
        "Invalid config at ablations.variants.s3d.pretrain.video_3d: s3d is not extracted "
        "(features.s3d.enabled is false), and the variant s3d is pretrained on howto",
    ),
    "main backbone disabled": (
        {"features": {"resnet152": {"enabled": False}}},
        "Invalid config at pretrain.video_2d: resnet152 is not extracted "
        "(features.resnet152.enabled is false), and the main model is pretrained on howto",
    ),
    "text encoder disabled": (
        {"features": {"text": {"hf": {"enabled": False}}}},
        "Invalid config at pretrain.text: text encoder hf is not enabled "
        "(features.text.hf.enabled), and the main model is pretrained on howto",
    ),
    "imported without the variant's features": (
        {"datasets": {"youcook2": {"imported": IMPORTED}}},
        "Invalid config at ablations.variants.s3d.pretrain.video_3d: the released features of "
        "youcook2 hold no s3d (they hold resnet152, resnext101, logmel; add "
        "datasets.youcook2.imported.s3d), and the variant s3d is evaluated on youcook2",
    ),
    "fine-tuning released features": (
        {
            "datasets": {"msrvtt": {"imported": {**IMPORTED, "s3d": "s3d.pkl", "split": "test"}}},
            "finetune": {"datasets": {"msrvtt": {"split": "train", "test_split": "test"}}},
        },
        "Invalid config at finetune.datasets.msrvtt: msrvtt is released evaluation features "
        "(datasets.msrvtt.imported), nothing to fine-tune on",
    ),
    "fine-tuning a localization benchmark": (
        {"finetune": {"datasets": {"crosstask": {"split": "train", "test_split": "test"}}}},
        "Invalid config at finetune.datasets.crosstask: not a retrieval benchmark of this run "
        "(those: msrvtt, youcook2; a dataset with captions and an evaluate.retrieval entry)",
    ),
    "imported split not evaluated": (
        {"datasets": {"msrvtt": {"imported": {**IMPORTED, "s3d": "s3d.pkl"}}}},
        "Invalid config at evaluate.retrieval.msrvtt.split: test, but the released features of "
        "msrvtt are its validation split (datasets.msrvtt.imported.split): no clip to evaluate",
    ),
    "localization on released features": (
        {"datasets": {"crosstask": {"imported": {**IMPORTED, "s3d": "s3d.pkl"}}}},
        "Invalid config at evaluate.localization.crosstask: crosstask is released retrieval "
        "features (imported); step localization needs its videos and annotations",
    ),
}
# id -> (the user's config file, or None for none: the repository's config.yaml alone)
GOOD = {
    "default": None,
    "tiny": yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text()),
    # the demo's youcook2 replaced by its released features, the demo's settings for it with it
    "demo with released youcook2": {
        "datasets": {"youcook2": {"imported": {**IMPORTED, "s3d": "released/youcook_val_s3d.pkl"}}}
    },
}


def dry_run(workdir: Path, name: str, config: dict | None) -> subprocess.CompletedProcess:
    args = ["-n", "--cores", "2", "--nolock"]
    if config is not None:
        path = workdir / f"{name.replace(' ', '_')}.yaml"
        path.write_text(yaml.safe_dump(config))
        args += ["--configfile", path.name]
    return snakemake(workdir, *args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    workdir = clone(tmp_path_factory.mktemp("clone"))
    write_released(workdir / "released")  # the pickles tiny.yaml and the good configs import
    cases = {name: config for name, (config, _) in BAD.items()} | GOOD
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        done = pool.map(lambda item: (item[0], dry_run(workdir, *item)), cases.items())
        return dict(done)


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_config_ends_in_its_one_line(runs, name):
    proc, line = runs[name], BAD[name][1]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert proc.stderr.rstrip("\n").splitlines()[-1] == line, output
    assert output.count("Invalid config") == 1
    assert "Traceback" not in output and "Exception" not in output and "File " not in output


@pytest.mark.parametrize("name", list(GOOD))
def test_a_good_config_builds_its_dag_printing_no_exception(runs, name):
    proc = runs[name]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Job stats:" in output
    assert "Exception" not in output and "Traceback" not in output
