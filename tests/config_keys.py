"""Every key of the config schema, a changed value for it, and what a dry run says reruns.

Used by tests/test_config_keys.py: for each key, an overlay of the tiny config with that key
changed goes through `snakemake -n`; the rules whose jobs rerun for a reason of their own (not
only because an upstream job reruns) must be the key's `x-reruns` in the schema.
"""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import numpy as np
import yaml
from entry_files import released_items, write_released, write_word2vec

from eao.workflow.config import resolve

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

# The entry of each name -> settings map that the tiny config has (the test changes that one).
MAP_ENTRY = {
    ("datasets",): "youcook2",
    ("evaluate", "retrieval"): "youcook2",
    ("evaluate", "localization"): "crosstask",
    ("finetune", "datasets"): "youcook2",
    ("ablations", "variants"): "tv",
}
# A dataset's `imported` settings are walked under the tiny config's imported dataset.
IMPORTED = ("datasets", "released", "imported")

# Keys whose changed value cannot be derived from their type (paths that must exist, values
# that must stay consistent). The files named here are made by `prepare_files`.
CHANGED = {
    ("datasets", "youcook2", "videos"): "extra/youcook2_videos.csv",
    ("datasets", "youcook2", "root"): "./results/demo_world/youcook2",
    ("datasets", "youcook2", "captions"): "extra/youcook2_annotations.json",
    ("pretrain", "dataset"): "youcook2",
    ("pretrain", "video_2d"): None,  # clip: the imported `released` holds none (REFUSED)
    ("pretrain", "checkpoint"): "extra/latest_model.pth",
    ("model", "heads"): 4,
    ("model", "width"): 64,
    ("model", "audio_channels"): [8, 8, 8, 16, 16, 16, 64],
    ("model", "audio_blocks"): [1, 1, 1, 1, 1, 1],
    ("model", "max_tokens"): [20, 3, 4],
    ("demo", "step_seconds"): [1.2, 1.8],
    ("demo", "audio_rate"): 22050,
    ("index", "datasets"): ["youcook2", "msrvtt"],
    ("finetune", "variants"): ["main", "tv"],
    ("ablations", "run"): [],
    ("ablations", "variants", "tv", "model"): {"depth": 2},
    ("ablations", "variants", "tv", "pretrain"): {"audio": None, "epochs": 1},
    ("evaluate", "long_videos", "strategies"): ["uniform", "max_pool"],
    ("evaluate", "retrieval", "youcook2", "split"): "validation",
    ("finetune", "datasets", "youcook2", "split"): "validation",
    ("finetune", "datasets", "youcook2", "test_split"): "training",
    ("pretrain", "gpus"): 2,
    ("pretrain", "runtime"): "1h",
    ("finetune", "runtime"): "2h",
    ("features", "text", "word2vec", "weights"): "extra/tiny-vectors.bin",
    (*IMPORTED, "resnet"): "extra/released_b/youcook_val.pkl",
    (*IMPORTED, "s3d"): "extra/released_b/youcook_val_s3d.pkl",
    (*IMPORTED, "clip"): "extra/released_clip.pkl",
    ("evaluate", "localization", "crosstask", "test_list"): "extra/crosstask_test.csv",
    ("features", "passes"): {"extra": ["clip"]},  # clip leaves the default pass for its own
}
# Rules a changed value creates besides the key's x-reruns: the new pass's (rule extract_<pass>).
NEW_RULES = {("features", "passes"): ["extract_extra"]}


def switched_off(backbone: str, key: str, model: str = "the main model") -> str:
    return (
        f"Invalid config at {key}: {backbone} is not extracted (features.{backbone}.enabled is "
        f"false), and {model} is pretrained on howto"
    )


# Keys whose changed value the workflow refuses for the tiny config (eao.workflow.checks): a
# backbone or text encoder a variant of the run is trained on switched off, a released split
# the benchmark is not evaluated on. The dry run must end in this line instead; what switching
# an extractor off reruns is seen on those nothing uses (clip, the word2vec and clip text).
REFUSED = {
    ("features", "resnet152", "enabled"): switched_off("resnet152", "pretrain.video_2d"),
    ("features", "resnext101", "enabled"): switched_off("resnext101", "pretrain.video_3d"),
    ("features", "logmel", "enabled"): switched_off("logmel", "pretrain.audio"),
    ("features", "s3d", "enabled"): switched_off(
        "s3d", "ablations.variants.s3d.pretrain.video_3d", "the variant s3d"
    ),
    ("features", "text", "hf", "enabled"): "Invalid config at pretrain.text: text encoder hf is "
    "not enabled (features.text.hf.enabled), and the main model is pretrained on howto",
    (*IMPORTED, "split"): "Invalid config at evaluate.retrieval.released.split: validation, but "
    "the released features of released are its validation_changed split "
    "(datasets.released.imported.split): no clip to evaluate",
}


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def schema_keys(schema: dict) -> list[tuple[tuple[str, ...], dict]]:
    """(key path, schema node) of every leaf setting; a name -> settings map is walked through
    its tiny-config entry (MAP_ENTRY); `x-reruns` of a $defs node has `$extractor` filled in."""
    out: list[tuple[tuple[str, ...], dict]] = []

    def walk(path: tuple[str, ...], node: dict, extractor: str | None) -> None:
        node = resolve(node, schema)
        extractor = node.get("x-extractor", extractor)
        if path[:1] == ("datasets",) and path[2:] == ("imported",):
            path = IMPORTED
        if "properties" in node:
            for name, child in node["properties"].items():
                walk((*path, name), child, extractor)
        elif isinstance(node.get("additionalProperties"), dict) and path in MAP_ENTRY:
            walk((*path, MAP_ENTRY[path]), node["additionalProperties"], extractor)
        else:
            reruns = node.get("x-reruns")  # None stays None: an unannotated key fails the test
            if reruns is not None:
                reruns = [extractor if r == "$extractor" else r for r in reruns]
            out.append((path, {**node, "x-reruns": reruns}))

    walk((), schema, None)
    return out


def get(config: dict, path: tuple[str, ...]):
    for part in path:
        config = config[part]
    return config


def with_value(config: dict, path: tuple[str, ...], value) -> dict:
    changed = copy.deepcopy(config)
    node = changed
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return changed


def current_value(config: dict, path: tuple[str, ...], node: dict):
    """The effective value: the config's, else the schema's default (snakemake's validate does
    not fill defaults behind a $ref)."""
    try:
        return get(config, path)
    except (KeyError, TypeError):
        return node.get("default")


def changed_value(path: tuple[str, ...], node: dict, current):
    """A valid value other than `current` (the effective value, defaults filled in)."""
    if path in CHANGED:
        return CHANGED[path]
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "enum" in node:
        return next(v for v in node["enum"] if v != current)
    if "boolean" in types:
        return not current
    if "integer" in types:
        step = node.get("multipleOf", 1)
        base = current if current is not None else node.get("minimum", 1)
        value = base + step
        return value if value <= node.get("maximum", value) else base - step
    if "number" in types:
        base = current if current is not None else 1.0
        return base / 2 if base else 0.5
    if "string" in types:
        return f"{current}_changed"
    raise ValueError(f"no changed value for {'.'.join(path)}: add it to CHANGED")


def prepare_files(workdir: Path) -> None:
    """The files the CHANGED paths name: copies of the tiny world's, and a stand-in checkpoint."""
    extra = workdir / "extra"
    extra.mkdir(exist_ok=True)
    world = workdir / "results" / "demo_world" / "youcook2"
    (extra / "youcook2_videos.csv").write_bytes((world / "videos.csv").read_bytes())
    (extra / "youcook2_annotations.json").write_bytes(
        (world / "youcookii_annotations_trainval.json").read_bytes()
    )
    (extra / "latest_model.pth").write_bytes(b"a stand-in: a dry run does not read it")
    (extra / "crosstask_test.csv").write_text("a stand-in: a dry run does not read it\n")
    write_word2vec(extra / "tiny-vectors.bin", ["cut", "the", "tomato", "eggs"])
    write_released(extra / "released_b", seed=1)
    items, _ = released_items()  # a CLIP pickle aligned with the tiny run's released pickle
    clip = [{"clip": np.ones((len(it["3d_full"]) * 2 // 3, 512), np.float32)} for it in items]
    (extra / "released_clip.pkl").write_bytes(pickle.dumps(clip, protocol=4))


JOB = re.compile(r"^(?:local)?rule (\w+):$")


def dry_run_jobs(output: str) -> list[dict]:
    """The jobs of a `snakemake -n` listing: rule, wildcards and the reason."""
    jobs: list[dict] = []
    for line in output.splitlines():
        match = JOB.match(line)
        if match:
            jobs.append({"rule": match[1], "wildcards": {}, "reason": ""})
        elif jobs and line.startswith("    reason: "):
            jobs[-1]["reason"] = line.removeprefix("    reason: ")
        elif jobs and line.startswith("    wildcards: "):
            pairs = line.removeprefix("    wildcards: ").split(", ")
            jobs[-1]["wildcards"] = dict(p.split("=", 1) for p in pairs)
    return jobs


def own_reasons(reason: str) -> list[str]:
    """The parts of a job's reason that are its own: its params, code or set of inputs changed,
    or its output is missing while nothing upstream reruns (a new job). "Input files updated by
    another job" is not one: the job follows an upstream rerun."""
    parts = [p for p in reason.split("; ") if p]
    follows = any(p.startswith("Input files updated by another job") for p in parts)
    return [
        p
        for p in parts
        if not p.startswith("Input files updated by another job")
        and not (follows and p.startswith("Missing output files"))
    ]


def rerun_roots(jobs: list[dict]) -> list[dict]:
    """Jobs that rerun for a reason of their own (`own_reasons`), also those that would rerun
    anyway because an upstream job does: a downstream rule that records a setting it should not
    shows here."""
    return [j for j in jobs if own_reasons(j["reason"]) and j["rule"] != "all"]
