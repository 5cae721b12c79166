"""The workflow's config checks and the demo's part of a config, on plain dicts
(eao.workflow.config, eao.workflow.demo_config)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from eao.demo.formats import RELEASE_FILES
from eao.demo.world import DATASETS as DEMO_DATASETS
from eao.workflow.config import (
    UnknownDataset,
    check_dataset,
    check_dataset_references,
    check_dataset_sources,
    coerce_cli_strings,
    coerce_variant_overrides,
)
from eao.workflow.demo_config import DEMO_DIR, apply_demo, demo_dataset

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
    assert fixed["features"] == {
        "batch_size": 16,
        "bf16": True,
        "resnet152": {"seed": 3, "weights": "7"},
    }  # weights: a string
    assert fixed["pretrain"] == {
        "lr": 1e-4,
        "checkpoint": None,
        "video_3d": None,
        "loss_weights": {"tv": 1},
    }
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
    return {
        "datasets": {"howto": {}, "youcook2": {}},
        "index": {"datasets": list(index)},
        "pretrain": {"dataset": corpus},
        "ablations": {"variants": variants or {}},
    }


def test_an_unknown_dataset_is_named_with_the_known_ones():
    with pytest.raises(
        UnknownDataset,
        match=r"index.datasets: unknown dataset 'youcok2' "
        r"\(the config's datasets: howto, youcook2\)",
    ):
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
    config = {
        "ablations": {
            "variants": {
                "v": {
                    "model": base_loaded("{depth: 2, positional: rope}"),
                    "pretrain": base_loaded("{audio: null, lr: 1e-4, loss_weights: {tv: 1}}"),
                }
            }
        }
    }
    coerce_variant_overrides(config, SCHEMA)
    spec = config["ablations"]["variants"]["v"]
    assert spec["model"] == {"depth": 2, "positional": "rope"}
    assert spec["pretrain"] == {"audio": None, "lr": 1e-4, "loss_weights": {"tv": 1}}


def test_a_dataset_has_videos_or_imported_features_not_both():
    check_dataset_sources(
        {
            "datasets": {
                "a": {"videos": "v.csv", "root": "r"},
                "b": {"imported": {"resnet": "x.pkl"}},
            }
        }
    )
    with pytest.raises(ValueError, match=r"datasets\.a: 'root' required \(or `imported:`"):
        check_dataset_sources({"datasets": {"a": {"videos": "v.csv"}}})
    with pytest.raises(ValueError, match=r"datasets\.b: imported replaces .*remove videos, root"):
        check_dataset_sources(
            {"datasets": {"b": {"imported": {"resnet": "x.pkl"}, "videos": "v.csv", "root": "r"}}}
        )


def demo_run(**named) -> dict:
    """A config naming `named` with the demo on, the demo's part added (apply_demo)."""
    config = {"demo": {"enabled": True}, **copy.deepcopy(named)}
    apply_demo(config, SCHEMA)
    return config


def test_the_demo_adds_its_datasets_and_their_settings():
    config = demo_run()
    assert list(config["datasets"]) == DEMO_DATASETS
    assert config["datasets"]["youcook2"] == {
        "videos": "results/demo_world/youcook2/videos.csv",
        "root": "results/demo_world/youcook2",
        "captions": "results/demo_world/youcook2/youcookii_annotations_trainval.json",
        "captions_format": "youcook2",
    }
    assert config["evaluate"]["retrieval"]["youcook2"]["video_tokens"] == 6
    crosstask = config["evaluate"]["localization"]["crosstask"]
    assert crosstask == {"video_tokens": 5, "audio_frames": 320}
    assert config["finetune"]["datasets"]["msrvtt"]["batch_videos"] == 8
    assert config["index"]["datasets"] == ["youcook2"]
    Draft202012Validator(SCHEMA).validate(config)
    check_dataset_sources(config)


def test_the_demos_captions_are_files_the_demo_world_writes():
    for name in DEMO_DATASETS:
        settings = demo_dataset(name)
        assert settings["root"] == f"{DEMO_DIR}/{name}"
        assert settings["captions"].removeprefix(f"{DEMO_DIR}/{name}/") in RELEASE_FILES[name]


def test_a_dataset_the_config_names_replaces_the_demos_with_its_settings():
    imported = {"imported": {"resnet": "youcook_val.pkl", "split": "validation"}}
    config = demo_run(datasets={"youcook2": imported})
    assert config["datasets"]["youcook2"] == imported  # no videos, root or captions beside it
    check_dataset_sources(config)
    paper = SCHEMA["properties"]["evaluate"]["properties"]["retrieval"]["default"]
    assert config["evaluate"]["retrieval"]["youcook2"] == paper["youcook2"]
    assert config["evaluate"]["retrieval"]["msrvtt"]["video_tokens"] == 6  # still the demo's
    assert config["finetune"]["datasets"]["youcook2"]["epochs"] == 5  # the schema's default
    assert config["index"]["datasets"] == []  # the demo indexes only its own youcook2


def test_entries_the_config_names_win_and_no_demo_adds_nothing():
    mine = {"split": "test", "clips": "videos", "video_tokens": 2, "audio_frames": 128}
    config = demo_run(evaluate={"retrieval": {"msrvtt": mine}}, index={"datasets": ["msrvtt"]})
    assert config["evaluate"]["retrieval"]["msrvtt"] == mine
    assert config["evaluate"]["retrieval"]["youcook2"]["video_tokens"] == 6
    assert config["index"]["datasets"] == ["msrvtt"]
    own = {"demo": {"enabled": False}, "datasets": {"own": {"videos": "v.csv", "root": "."}}}
    config = copy.deepcopy(own)
    apply_demo(config, SCHEMA)
    assert config == own
    with pytest.raises(ValueError, match="^Invalid config at datasets: no dataset"):
        check_dataset_sources({"datasets": {}})
