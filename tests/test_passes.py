"""Extraction passes (eao.workflow.passes): which backbones each decode feeds, what it records."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from eao.backbones import registry
from eao.workflow import passes

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"


@pytest.fixture
def tiny() -> dict:
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    validate(config, str(SCHEMA_PATH))
    return config


@pytest.fixture
def extra_backbone(monkeypatch) -> str:
    """A registered backbone that is not one of the paper's (off by default)."""
    spec = dataclasses.replace(registry.backbone("clip"), name="toy", paper=False)
    monkeypatch.setitem(registry.backbones(), "toy", spec)
    return "toy"


def test_one_default_pass_holds_every_enabled_backbone(tiny):
    assert passes.passes(tiny) == {"media": passes.enabled_backbones(tiny)}
    assert passes.check_passes(tiny) is None


def test_a_named_pass_takes_its_backbones_out_of_the_default_one(tiny):
    tiny["features"]["passes"] = {"video3d": ["s3d", "resnext101"]}
    assert passes.passes(tiny) == {
        "media": ["resnet152", "clip", "logmel"],
        "video3d": ["resnext101", "s3d"],
    }
    assert set(passes.pass_settings(tiny, "video3d")) == {
        "device",
        "bf16",
        "decoder",
        "resnext101",
        "s3d",
    }
    assert passes.pass_versions(tiny, "video3d") == {"resnext101": 1, "s3d": 1}
    outputs = passes.pass_outputs(tiny, "video3d")
    assert outputs["s3d_failures"] == "results/features/s3d/{dataset}/failures-{shard}.parquet"
    assert "resnet152" not in outputs


def test_a_setting_of_one_pass_changes_no_other_passs_params(tiny):
    tiny["features"]["passes"] = {"video3d": ["s3d"]}
    before = {p: passes.pass_settings(tiny, p) for p in passes.passes(tiny)}
    changed = copy.deepcopy(tiny)
    changed["features"]["s3d"] = {**changed["features"].get("s3d", {}), "seed": 7}
    assert passes.pass_settings(changed, "media") == before["media"]
    assert passes.pass_settings(changed, "video3d") != before["video3d"]


def test_a_backbone_off_by_default_is_recorded_nowhere_until_enabled(tiny, extra_backbone):
    assert extra_backbone not in passes.enabled_backbones(tiny)
    assert extra_backbone not in passes.pass_settings(tiny, "media")
    assert extra_backbone not in passes.pass_versions(tiny, "media")
    tiny["features"][extra_backbone] = {"enabled": True}
    tiny["features"]["passes"] = {"toys": [extra_backbone]}
    assert passes.passes(tiny)["toys"] == [extra_backbone]
    assert extra_backbone not in passes.pass_settings(tiny, "media")  # media reruns nothing


def test_switching_off_a_papers_backbone_changes_no_params(tiny):
    off = copy.deepcopy(tiny)
    off["features"]["clip"] = {"enabled": False}
    assert passes.pass_settings(off, "media") == passes.pass_settings(tiny, "media")
    assert passes.pass_versions(off, "media") == passes.pass_versions(tiny, "media")
    assert "clip" not in passes.pass_outputs(off, "media")


@pytest.mark.parametrize(
    "given, message",
    [
        ({"Bad-Name": ["clip"]}, "features.passes: 'Bad-Name' is not a pass name"),
        ({"media": ["clip"]}, "features.passes: 'media' is not a pass name"),
        ({"x": ["i3d"]}, "features.passes.x: unknown backbone 'i3d' (known: resnet152,"),
        ({"x": ["clip"], "y": ["clip"]}, "features.passes: clip is in both x and y"),
    ],
)
def test_a_pass_that_cannot_work_is_one_line(tiny, given, message):
    tiny["features"]["passes"] = given
    assert passes.check_passes(tiny).startswith(message)


def test_the_pass_args_carry_each_backbones_settings(tiny):
    tiny["features"]["passes"] = {"video3d": ["s3d"]}
    output = {
        k: v.format(dataset="d", shard="00000")
        for k, v in passes.pass_outputs(tiny, "video3d").items()
    }
    args = passes.pass_args(tiny, "video3d", output)
    assert args.count("--backbone") == 1 and args[args.index("--backbone") + 1] == "s3d"
    assert args[args.index("--s3d-size") + 1] == "64" and "--s3d-recipe" in args


def test_a_pass_is_not_named_like_a_text_job_nor_lists_a_backbone_twice(tiny):
    tiny["features"]["passes"] = {"text_hf": ["clip"]}
    assert "not text*" in passes.check_passes(tiny)
    tiny["features"]["passes"] = {"x": ["clip", "clip"]}
    assert passes.check_passes(tiny) == "features.passes.x: a backbone named twice"
