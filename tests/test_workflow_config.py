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
    coerce_cli_strings,
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


def test_an_unknown_dataset_is_named_with_the_known_ones():
    config = {"datasets": {"howto": {}, "youcook2": {}}, "index": {"datasets": ["youcok2"]}}
    with pytest.raises(UnknownDataset, match=r"index.datasets: unknown dataset 'youcok2' "
                       r"\(the config's datasets: howto, youcook2\)"):
        check_dataset_references(config)
    assert check_dataset(config, "howto", "target") == {}
    with pytest.raises(UnknownDataset, match="target: unknown dataset 'x'"):
        check_dataset(config, "x", "target")
