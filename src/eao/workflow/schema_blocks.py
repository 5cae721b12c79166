"""The parts of the config schema that the backbone registry decides, as text blocks.

workflow/schemas/config.schema.yaml holds, between marker lines, one `features.<name>` entry per
registered backbone and one `features.text.<name>` entry per text encoder
(eao.backbones.registry), and the choices of pretrain.video_2d / video_3d / audio / text.
tools/config_schema.py rewrites those blocks from here; tests/test_schema_blocks.py fails when
the checked-in schema differs from what it would write. Each entry is one line of
JSON (valid YAML flow), so a diff shows one line per backbone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import yaml

from eao.backbones.registry import backbones, names, text_encoders
from eao.backbones.spec import Backbone, TextEncoder
from eao.io.atomic import write_text_atomic

MARKER = re.compile(r"^(\s*)# >>> generated: (\w+)")
END = "# <<< generated: {}"
SLOTS = {"video_2d": "2d", "video_3d": "3d", "audio": "audio"}
SLOT_HELP = {
    "video_2d": "2D visual features (null to leave out).",
    "video_3d": "3D visual features (null to leave out).",
    "audio": "Audio features (null to leave out).",
}


def backbone_entry(spec: Backbone) -> dict:
    """The JSON schema of features.<name>: enabled, weights and seed, the backbone's own."""
    reruns = {"x-reruns": ["extract_media"]}
    properties = {
        "enabled": {
            # one of the paper's is recorded enabled or not; another joins its pass's params
            "x-reruns": ["failures"] if spec.paper else ["failures", "extract_media"],
            "type": "boolean",
            "default": spec.paper,
            "description": "Run this extractor"
            + ("." if spec.paper else " (not one of the paper's: off unless enabled)."),
        }
    }
    if spec.weighted:
        properties["weights"] = {
            **reruns,
            "type": "string",
            "default": "random",
            "description": spec.weights_help,
        }
        properties["seed"] = {
            **reruns,
            "type": "integer",
            "default": 0,
            "description": "Seed of random weights.",
        }
    properties |= {s.key: {**reruns, **s.schema} for s in spec.settings}
    return {
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "x-extractor": "extract_media",
        "description": spec.summary,
        "properties": properties,
    }


def slot_entry(slot: str) -> dict:
    """pretrain.<slot>: one of the registered backbones of its kind, or null."""
    return {
        "x-reruns": ["pretrain"],
        "type": ["string", "null"],
        "enum": [*names(SLOTS[slot]), None],
        # the first of the paper's of its kind, in the registry's order (the paper's model)
        "default": next(n for n in names(SLOTS[slot]) if backbones()[n].paper),
        "description": SLOT_HELP[slot],
    }


def text_entry(spec: TextEncoder) -> dict:
    """The JSON schema of features.text.<name>: enabled (off by default), weights, seed and
    tokenizer, the same keys for every text encoder."""
    rerun = {"x-reruns": ["extract_text"]}
    described = {"description": "Seed of random weights."}
    return {
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "description": spec.summary,
        "properties": {
            "enabled": {
                "x-reruns": ["failures"],
                "type": "boolean",
                "default": False,
                "description": "Run this text encoder.",
            },
            "weights": {
                "x-reruns": list(spec.weights_reruns),
                "type": "string",
                "default": "random",
                "description": spec.weights_help,
            },
            "seed": {**rerun, "type": "integer", "default": 0, **described},
            "tokenizer": {**rerun, "type": "string", "description": spec.tokenizer_help},
        },
    }


def text_slot_entry() -> dict:
    """pretrain.text: one of the registered text encoders (the first of the paper's default)."""
    default = next(n for n, s in text_encoders().items() if s.paper)
    return {
        "x-reruns": ["pretrain"],
        "type": "string",
        "enum": list(text_encoders()),
        "default": default,
        "description": f"Text features (the paper's: {default}).",
    }


def blocks() -> dict[str, list[str]]:
    """Block name -> its lines, unindented."""
    slots = [f"{slot}: {json.dumps(slot_entry(slot))}" for slot in SLOTS]
    return {
        "backbones": [f"{n}: {json.dumps(backbone_entry(s))}" for n, s in backbones().items()],
        "slots": [*slots, f"text: {json.dumps(text_slot_entry())}"],
        "text_encoders": [f"{n}: {json.dumps(text_entry(s))}" for n, s in text_encoders().items()],
    }


def render(text: str) -> str:
    """The schema text with every generated block rewritten (ValueError: a block not closed or
    unknown)."""
    lines, out, made = text.splitlines(keepends=True), [], blocks()
    i = 0
    while i < len(lines):
        out.append(lines[i])
        match = MARKER.match(lines[i])
        i += 1
        if not match:
            continue
        indent, name = match.groups()
        if name not in made:
            raise ValueError(f"unknown generated block {name!r} (known: {', '.join(made)})")
        end = next((j for j in range(i, len(lines)) if lines[j].strip() == END.format(name)), None)
        if end is None:
            raise ValueError(f"generated block {name!r} has no end line {END.format(name)!r}")
        out += [f"{indent}{line}\n" for line in made[name]]
        i = end
    return "".join(out)


def current_schema(path: str) -> tuple[dict, str]:
    """The schema at `path` with its generated blocks as the registry has them now, and a path
    to it for snakemake's validate (which reads a file): `path` itself when it is current, else
    a rendered copy in the temp folder. A backbone module added without rerunning
    tools/config_schema.py is thus configurable at once; the checked-in file is the reference
    that docs/config.md is made from."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rendered = render(text)
    if rendered != text:
        digest = hashlib.sha256(rendered.encode()).hexdigest()[:16]
        path = os.path.join(tempfile.gettempdir(), f"eao-config-schema-{digest}.yaml")
        if not (os.path.exists(path) and Path(path).read_text(encoding="utf-8") == rendered):
            write_text_atomic(path, rendered)
    return yaml.safe_load(rendered), path
