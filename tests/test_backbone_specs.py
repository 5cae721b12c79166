"""The backbone registry and what a spec refuses (eao.backbones.spec, eao.backbones.registry)."""

from __future__ import annotations

import dataclasses

import pytest

from eao.backbones import registry
from eao.backbones.spec import Backbone, Setting
from eao.features.extract import _parse


def test_the_registry_finds_every_backbone_and_text_encoder_in_order():
    assert list(registry.backbones()) == ["resnet152", "resnext101", "clip", "s3d", "logmel"]
    assert list(registry.text_encoders()) == ["hf", "word2vec", "clip"]
    assert {s.kind for s in registry.backbones().values()} == {"2d", "3d", "audio"}
    assert registry.names("3d") == ["resnext101", "s3d"]
    assert registry.versions()["features.s3d"] == registry.backbone("s3d").version
    with pytest.raises(KeyError, match="unknown backbone 'i3d'; known: resnet152"):
        registry.backbone("i3d")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": "Toy"}, "a name is"),
        ({"name": "text_toy"}, "a name is"),
        ({"kind": "4d"}, "kind '4d'"),
        ({"speedups": ("turbo",)}, "unknown speed-ups"),
        ({"settings": (Setting("seed", {"default": 1, "description": "x"}),)}, "repeat a key"),
        ({"kind": "audio", "dim": 64}, "an audio backbone gives 40-d rows at 100/s"),
    ],
)
def test_a_spec_that_cannot_work_is_refused_when_its_module_loads(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(registry.backbone("resnet152"), **change)


def test_a_setting_needs_a_default_and_a_description_and_parses_by_its_type():
    with pytest.raises(ValueError, match="needs description"):
        Setting("flip", {"type": "boolean", "default": False})
    flip = Setting("flip", {"type": "boolean", "default": False, "description": "Flip."})
    size = Setting("size", {"type": "integer", "default": 1, "description": "Size."})
    assert flip.parse("False") is False and flip.parse("true") is True and size.parse("7") == 7
    with pytest.raises(ValueError, match="expected true or false"):
        flip.parse("no")


def test_a_backbones_settings_are_command_line_flags(monkeypatch):
    flip = Setting("flip", {"type": "boolean", "default": False, "description": "Flip."})
    toy = dataclasses.replace(registry.backbone("clip"), name="toy", settings=(flip,))
    assert isinstance(toy, Backbone)
    monkeypatch.setitem(registry.backbones(), "toy", toy)
    args = _parse(
        [
            "--backbone",
            "toy",
            "--probed",
            "p",
            "--out",
            "o",
            "--out-failures",
            "f",
            "--toy-flip",
            "false",
            "--seed",
            "toy=3",
        ]
    )
    assert args.settings == {"toy": {"weights": "random", "seed": 3, "flip": False}}
