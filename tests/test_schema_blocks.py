"""The config schema's backbone entries and pretrain slots come from the backbone registry
(eao.workflow.schema_blocks, tools/config_schema.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from eao.backbones import registry
from eao.workflow import schema_blocks

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"


def test_the_checked_in_schema_is_current():
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert schema_blocks.render(text) == text, "run python tools/config_schema.py"


def test_every_backbone_has_its_entry_and_slot():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    features = schema["properties"]["features"]["properties"]
    slots = schema["properties"]["pretrain"]["properties"]
    for name, spec in registry.backbones().items():
        entry = features[name]
        assert entry["properties"]["enabled"]["default"] is spec.paper
        assert {s.key for s in spec.settings} <= set(entry["properties"])
        slot = {"2d": "video_2d", "3d": "video_3d", "audio": "audio"}[spec.kind]
        assert name in slots[slot]["enum"]


def test_a_new_backbone_is_off_by_default_and_configurable_at_once(tmp_path, monkeypatch):
    spec = dataclasses.replace(registry.backbone("resnext101"), name="toy3d", paper=False)
    monkeypatch.setitem(registry.backbones(), "toy3d", spec)
    schema, path = schema_blocks.current_schema(str(SCHEMA_PATH))
    assert path != str(SCHEMA_PATH)  # a rendered copy: the checked-in file lacks it
    assert (
        schema["properties"]["features"]["properties"]["toy3d"]["properties"]["enabled"]["default"]
        is False
    )
    assert "toy3d" in schema["properties"]["pretrain"]["properties"]["video_3d"]["enum"]
    assert yaml.safe_load(Path(path).read_text()) == schema


def test_a_block_without_its_end_is_an_error():
    with pytest.raises(ValueError, match="has no end line"):
        schema_blocks.render("a:\n  # >>> generated: backbones\n  b: 1\n")
    with pytest.raises(ValueError, match="unknown generated block"):
        schema_blocks.render("  # >>> generated: nothing\n  # <<< generated: nothing\n")


def test_a_new_text_encoder_is_a_choice_of_pretrain_text(monkeypatch):
    spec = dataclasses.replace(registry.text_encoder("hf"), name="toy_text")
    monkeypatch.setitem(registry.text_encoders(), "toy_text", spec)
    schema, _ = schema_blocks.current_schema(str(SCHEMA_PATH))
    text = schema["properties"]["features"]["properties"]["text"]["properties"]
    assert text["toy_text"]["properties"]["enabled"]["default"] is False
    assert "toy_text" in schema["properties"]["pretrain"]["properties"]["text"]["enum"]
