"""The run's model variants (eao.workflow.variants), on plain config dicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from eao.workflow import variants

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
