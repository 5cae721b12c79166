"""The run's model variants (eao.workflow.variants) and the checks of what a run schedules
(eao.workflow.checks), on plain config dicts."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from eao.workflow import checks, plan, variants
from eao.workflow.demo_config import apply_demo

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def config(ablations: dict, **extra) -> dict:
    config = {
        "datasets": {"own": {"videos": "v.csv", "root": "."}},
        "ablations": ablations,
        **extra,
    }
    validate(config, str(SCHEMA_PATH))
    return config


VARIANTS = {
    "s3d": {"pretrain": {"video_2d": None, "video_3d": "s3d"}},
    "deep": {"model": {"depth": 2}},
    "pos_emb": {"model": {"positional": "learned"}},
}


def test_section_keys_are_the_schemas():
    keys = variants.section_keys(SCHEMA)
    assert "depth" in keys["model"] and "epochs" in keys["pretrain"]


def test_variant_section_is_main_with_the_overrides():
    c = config({"variants": VARIANTS, "run": ["deep", "s3d"]})
    assert variants.variant_names(c) == ["main", "deep", "s3d"]
    assert variants.pretrained_variants(c) == ["main", "deep", "s3d"]
    assert variants.variant_section(c, "main", "model") == c["model"]
    assert variants.variant_section(c, "deep", "model") == {**c["model"], "depth": 2}
    s3d = variants.variant_section(c, "s3d", "pretrain")
    assert s3d["video_2d"] is None and s3d["video_3d"] == "s3d" and s3d["epochs"] == 15


def test_variants_of_the_tables():
    c = config({"variants": VARIANTS, "run": ["pos_emb"]})
    assert variants.localization_variants(c) == ["main"]
    assert variants.long_video_variants(c) == ["main", "pos_emb"]
    c = config(
        {"variants": VARIANTS, "run": ["s3d"]}, finetune={"variants": ["main", "s3d", "deep"]}
    )
    assert variants.localization_variants(c) == ["main", "s3d"]
    assert variants.finetune_variants(c) == ["main", "s3d"]  # deep is defined but not run


def test_check_variants_accepts_the_tiny_config():
    c = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    validate(c, str(SCHEMA_PATH))
    variants.check_variants(c, SCHEMA)


@pytest.mark.parametrize(
    ("ablations", "extra", "message"),
    [
        ({"run": ["nope"]}, {}, "ablations.run: nope not in ablations.variants"),
        (
            {"variants": {"x": {"model": {"widht": 3}}}},
            {},
            "ablations.variants.x.model: unknown keys widht",
        ),
        (
            {"variants": {"x": {"pretrain": {"depth": 3}}}},
            {},
            "ablations.variants.x.pretrain: unknown keys depth",
        ),
        (
            {},
            {"finetune": {"variants": ["main", "nope"]}},
            "finetune.variants: nope not in ablations.variants",
        ),
    ],
)
def test_check_variants_names_the_bad_key(ablations, extra, message):
    with pytest.raises(ValueError, match=f"Invalid config at {message}"):
        variants.check_variants(config(ablations, **extra), SCHEMA)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"pretrain": {"video_3d": "i3d"}},
            "ablations.variants.x.pretrain.video_3d: 'i3d' is not one of "
            "['resnext101', 's3d', None]",
        ),
        (
            {"model": {"positional": "sinusoid"}},
            "ablations.variants.x.model.positional: 'sinusoid' is not one of",
        ),
        (
            {"pretrain": {"loss_weights": {"tv": -1}}},
            "ablations.variants.x.pretrain.loss_weights.tv: -1 is less than the minimum of 0",
        ),
        ({"model": {"depth": "two"}}, "ablations.variants.x.model.depth: 'two' is not of type"),
    ],
)
def test_overrides_get_the_checks_of_the_keys_they_override(overrides, message):
    c = config({"variants": {"x": overrides}})
    with pytest.raises(ValueError, match=re.escape(f"Invalid config at {message}")):
        variants.check_variants(c, SCHEMA)


def run(**named) -> dict:
    """A run's config as the checks see it: the demo's datasets, `named` over them, validated."""
    named = copy.deepcopy(named)
    features = {"text": {"hf": {"enabled": True}}, **named.pop("features", {})}
    c = {"demo": {"enabled": True}, "pretrain": {"text": "hf"}, "features": features, **named}
    apply_demo(c, SCHEMA)
    validate(c, str(SCHEMA_PATH))
    return c


S3D = {"variants": {"s3d": VARIANTS["s3d"]}, "run": ["s3d"]}
IMPORTED = {"imported": {"resnet": "youcook_val.pkl", "split": "validation"}}


def test_the_demo_run_has_no_problem():
    assert checks.run_problems(run(ablations=S3D), SCHEMA, {}) == []
    uses = checks.variant_uses(run(ablations=S3D))
    assert ("main", "howto", "pretrained on") in uses
    assert ("s3d", "crosstask", "evaluated on") in uses
    assert ("main", "youcook2", "fine-tuned and evaluated on") in uses
    assert ("main", "youcook2", "indexed with") in uses


@pytest.mark.parametrize(
    ("named", "line"),
    [
        (
            {"features": {"s3d": {"enabled": False}}, "ablations": S3D},
            "ablations.variants.s3d.pretrain.video_3d: s3d is not extracted "
            "(features.s3d.enabled is false), and the variant s3d is pretrained on howto",
        ),
        (
            {"pretrain": {"text": "word2vec"}},
            "pretrain.text: text encoder word2vec is not enabled (features.text.word2vec.enabled), "
            "and the main model is pretrained on howto",
        ),
        (
            {"datasets": {"youcook2": IMPORTED}, "ablations": S3D, "finetune": {"variants": []}},
            "ablations.variants.s3d.pretrain.video_3d: the released features of youcook2 hold no "
            "s3d (they hold resnet152, resnext101, logmel; add datasets.youcook2.imported.s3d), "
            "and the variant s3d is evaluated on youcook2",
        ),
        (
            {
                "datasets": {"youcook2": IMPORTED},
                "finetune": {
                    "datasets": {"youcook2": {"split": "training", "test_split": "validation"}}
                },
            },
            "finetune.datasets.youcook2: youcook2 is released evaluation features "
            "(datasets.youcook2.imported), nothing to fine-tune on",
        ),
        (
            {"datasets": {"msrvtt": IMPORTED}, "finetune": {"variants": []}},
            "evaluate.retrieval.msrvtt.split: test, but the released features of msrvtt are its "
            "validation split (datasets.msrvtt.imported.split): no clip to evaluate",
        ),
        (
            {"datasets": {"crosstask": IMPORTED}},
            "evaluate.localization.crosstask: crosstask is released retrieval features "
            "(imported); step localization needs its videos and annotations",
        ),
        (
            {"finetune": {"datasets": {"crosstask": {"split": "a", "test_split": "b"}}}},
            "finetune.datasets.crosstask: not a retrieval benchmark of this run (those: msrvtt, "
            "youcook2; a dataset with captions and an evaluate.retrieval entry)",
        ),
        (
            {
                "demo": {"enabled": False},
                "datasets": {"youcook2": IMPORTED},
                "pretrain": {"checkpoint": "latest_model.pth", "text": "hf"},
                "ablations": {"variants": VARIANTS, "run": ["deep"]},
                "finetune": {"variants": []},
            },
            "pretrain.dataset: unknown dataset 'howto' (the config's datasets: youcook2), and deep "
            "would be pretrained on it",
        ),
        (
            {
                "datasets": {"howto": {"videos": "v.csv", "root": "."}},
                "pretrain": {"checkpoint": "latest_model.pth", "text": "hf"},
                "ablations": {"variants": VARIANTS, "run": ["deep"]},
            },
            "pretrain.dataset: howto has no captions (datasets.howto.captions), and deep would be "
            "pretrained on it",
        ),
    ],
)
def test_what_the_run_would_schedule_and_fail_is_one_line(named, line):
    given = copy.deepcopy(named)
    assert checks.run_problems(run(**named), SCHEMA, given) == [f"Invalid config at {line}"]


def test_released_features_are_evaluated_not_fine_tuned_on():
    config = run(datasets={"youcook2": IMPORTED})  # the schema's finetune entry for youcook2
    assert plan.finetune_datasets(config) == ["msrvtt"]
    assert checks.run_problems(config, SCHEMA, {}) == []
    assert ("main", "youcook2", "evaluated on") in checks.variant_uses(config)


def test_pretrain_makes_only_the_variants_it_can_train():
    assert plan.pretrainable_variants(run(ablations=S3D)) == ["main", "s3d"]
    imported = run(ablations=S3D, pretrain={"checkpoint": "latest_model.pth", "text": "hf"})
    assert plan.pretrainable_variants(imported) == ["s3d"]  # main: rule import_checkpoint
    no_corpus = run(demo={"enabled": False}, datasets={"youcook2": IMPORTED}, ablations=S3D)
    assert plan.pretrainable_variants(no_corpus) == []
