"""One source for defaults: every schema section backed by a dataclass has the dataclass's
defaults, key by key (a drift would make `python -m eao...` and the workflow disagree)."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from eao.demo.world import DemoConfig
from eao.model import ModelConfig
from eao.train.config import TrainConfig

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text()
)


def plain(value):
    """Tuples as lists, as YAML has them."""
    return [plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def dataclass_defaults(cls) -> dict:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = plain(f.default)
        elif f.default_factory is not MISSING:
            out[f.name] = plain(f.default_factory())
    return out


# (schema section, dataclass, dataclass fields the section does not have: set by the code)
SECTIONS = [
    (SCHEMA["properties"]["pretrain"], TrainConfig, {"eval_mode"}),  # fine-tuning sets eval_mode
    (
        SCHEMA["properties"]["model"],
        ModelConfig,
        {"video_dim", "text_dim", "n_mels"},
    ),  # from the feature shards; 40 log-mel bands
    (SCHEMA["properties"]["demo"], DemoConfig, set()),
]
IDS = ["pretrain-TrainConfig", "model-ModelConfig", "demo-DemoConfig"]


@pytest.mark.parametrize(("section", "cls", "code_only"), SECTIONS, ids=IDS)
def test_schema_defaults_are_the_dataclass_defaults(section, cls, code_only):
    defaults = dataclass_defaults(cls)
    props = section["properties"]
    missing = sorted(set(defaults) - set(props) - code_only)
    assert not missing, f"{cls.__name__} keys the schema section lacks: {missing}"
    drift = {
        k: (props[k].get("default", "<none>"), defaults[k])
        for k in sorted(set(defaults) & set(props))
        if props[k].get("default", "<none>") != defaults[k]
    }
    assert not drift, f"schema default vs {cls.__name__} default: {drift}"


def test_every_dataclass_key_is_a_key_of_its_section_or_set_by_the_code():
    for section, cls, code_only in SECTIONS:
        assert code_only <= {f.name for f in fields(cls)}
        assert not code_only & set(section["properties"]), cls.__name__
