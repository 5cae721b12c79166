"""The workflow's config checks, on plain dicts (eao.workflow.config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from eao.workflow.config import (
    UnknownDataset,
    check_dataset,
    check_dataset_references,
    check_dataset_sources,
    coerce_cli_strings,
    coerce_variant_overrides,
)

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text()
)


def base_loaded(text: str):
    """What `snakemake --config key=TEXT` makes of a nested value."""
    return yaml.load(text, Loader=yaml.BaseLoader)


def test_nested_cli_values_get_the_schema_types():
    config = {
        "features": base_loaded("{batch_size: 16, bf16: true, resnet152: {seed: 3, weights: 7}}"),
        "pretrain": base_loaded(
            "{lr: 1e-4, checkpoint: null, video_3d: null, loss_weights: {tv: 1}}"
        ),
        "model": base_loaded("{audio_channels: [8, 8, 8, 16, 16, 16, 32]}"),
        "datasets": {"own": base_loaded("{videos: v.csv, root: '.'}")},
    }
    fixed = coerce_cli_strings(config, SCHEMA, SCHEMA)
    assert fixed["features"] == {"batch_size": 16, "bf16": True,
                                 "resnet152": {"seed": 3, "weights": "7"}}  # weights: a string
    assert fixed["pretrain"] == {"lr": 1e-4, "checkpoint": None, "video_3d": None,
                                 "loss_weights": {"tv": 1}}
    assert fixed["model"]["audio_channels"] == [8, 8, 8, 16, 16, 16, 32]
    assert fixed["datasets"]["own"] == {"videos": "v.csv", "root": "."}
    Draft202012Validator(SCHEMA).validate({**fixed, "datasets": fixed["datasets"]})


def test_a_string_that_is_not_the_type_stays_for_the_schema_to_refuse():
    fixed = coerce_cli_strings({"features": {"batch_size": "many"}}, SCHEMA, SCHEMA)
    assert fixed == {"features": {"batch_size": "many"}}


def test_values_already_typed_are_kept():
    config = {"shard_size": 8, "features": {"batch_size": 4}, "index": {"datasets": ["a"]}}
    assert coerce_cli_strings(config, SCHEMA, SCHEMA) == config


def config_with(index=(), corpus="howto", variants=None) -> dict:
    return {"datasets": {"howto": {}, "youcook2": {}}, "index": {"datasets": list(index)},
            "pretrain": {"dataset": corpus}, "ablations": {"variants": variants or {}}}


def test_an_unknown_dataset_is_named_with_the_known_ones():
    with pytest.raises(UnknownDataset, match=r"index.datasets: unknown dataset 'youcok2' "
                       r"\(the config's datasets: howto, youcook2\)"):
        check_dataset_references(config_with(index=["youcok2"]), {})
    # a corpus the user names must exist; the schema's default may be absent (own videos only)
    typo = config_with(corpus="hwoto")
    with pytest.raises(UnknownDataset, match="pretrain.dataset: unknown dataset 'hwoto'"):
        check_dataset_references(typo, {"pretrain": {"dataset": "hwoto"}})
    check_dataset_references(typo, {})
    variant = config_with(variants={"v": {"pretrain": {"dataset": "yc2"}}})
    with pytest.raises(UnknownDataset, match="ablations.variants.v.pretrain.dataset"):
        check_dataset_references(variant, {})
    assert check_dataset(typo, "howto", "target") == {}
    with pytest.raises(UnknownDataset, match="target: unknown dataset 'x'"):
        check_dataset(typo, "x", "target")


def test_variant_overrides_get_the_sections_types():
    config = {"ablations": {"variants": {"v": {
        "model": base_loaded("{depth: 2, positional: rope}"),
        "pretrain": base_loaded("{audio: null, lr: 1e-4, loss_weights: {tv: 1}}"),
    }}}}
    coerce_variant_overrides(config, SCHEMA)
    spec = config["ablations"]["variants"]["v"]
    assert spec["model"] == {"depth": 2, "positional": "rope"}
    assert spec["pretrain"] == {"audio": None, "lr": 1e-4, "loss_weights": {"tv": 1}}


def test_a_dataset_has_videos_or_imported_features_not_both():
    check_dataset_sources({"datasets": {"a": {"videos": "v.csv", "root": "r"},
                                        "b": {"imported": {"resnet": "x.pkl"}}}})  # fmt: skip
    with pytest.raises(ValueError, match=r"datasets\.a: 'root' required \(or `imported:`"):
        check_dataset_sources({"datasets": {"a": {"videos": "v.csv"}}})
    with pytest.raises(ValueError, match=r"datasets\.b: imported replaces .*remove videos, root"):
        check_dataset_sources({"datasets": {"b": {"imported": {"resnet": "x.pkl"},
                                                  "videos": "v.csv", "root": "r"}}})  # fmt: skip
