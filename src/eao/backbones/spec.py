"""What a backbone declares about itself, in its own module: one `Backbone` named `SPEC`.

A backbone module (e.g. eao.backbones.resnet2d) holds the network, its weight loading and, at the
end, its `SPEC`: name, the model slot its rows feed (kind), rows per second, output size, which
speed-ups apply, its settings with their defaults, its output version, and `build`, which turns
the settings into an extractor (`Visual`: frames in, rows out; `Audio`: a waveform in). The rest
of the pipeline reads these through eao.backbones.registry: the extractor's dispatch and command
line, the corpus's table kinds, the workflow's rules and the config schema's `features.<name>`.
docs/extending.md walks through adding one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eao.io.decode import FrameSpec
from eao.timeline import FRAMES_PER_SECOND, N_MELS

KINDS = ("2d", "3d", "audio")  # the model's media slots: pretrain.video_2d / video_3d / audio
SPEEDUPS = ("channels_last", "fold_bn")
# a name is a config key, a folder and part of rule and file names; text_* are extract_text's
NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED_KEYS = ("enabled", "weights", "seed")


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def _parser(schema: dict) -> Callable[[str], Any]:
    """How the command line parses a setting of this JSON type (a string stays one)."""
    return {"integer": int, "number": float, "boolean": _boolean}.get(schema.get("type"), str)


@dataclass(frozen=True)
class Setting:
    """A backbone setting beyond weights and seed: its config key, its JSON schema (type, enum,
    bounds, default, description: the config schema's entry is generated from it) and how the
    command line parses it (`parse`: text -> value, raising ValueError with the reason)."""

    key: str
    schema: dict[str, Any]
    parse: Callable[[str], Any] | None = None  # None: from the schema's type

    def __post_init__(self) -> None:
        missing = sorted({"default", "description"} - set(self.schema))
        if missing:
            raise ValueError(f"setting {self.key}: its schema needs {', '.join(missing)}")
        if self.parse is None:
            object.__setattr__(self, "parse", _parser(self.schema))

    @property
    def default(self) -> Any:
        return self.schema["default"]


@dataclass
class Visual:
    """A visual extractor: which frames it needs, how frames become model inputs, the model."""

    name: str
    frames: FrameSpec
    step_s: float  # seconds per feature row
    dim: int
    # uint8 frames chunk -> model inputs; None for a backbone whose inputs span chunks (windows)
    to_inputs: Callable[[np.ndarray], torch.Tensor] | None
    model: Callable[[torch.Tensor], torch.Tensor]
    provenance: dict
    chunk: int = 64  # frames per decode chunk (a multiple of 16 for 3D clips)
    memory_format: torch.memory_format = torch.contiguous_format
    # Overlapping windows (S3D) need frames across chunk boundaries: a fresh stateful windower
    # per video replaces to_inputs (push(chunk) -> inputs, finish() -> the last inputs).
    windows: Callable[[], object] | None = None

    def metadata(self) -> dict[str, str]:
        """What its shards record besides the run's keys: provenance, rate and decode fps."""
        rate = {"features_per_second": f"{1 / self.step_s:g}", "fps": f"{self.frames.fps:g}"}
        return {**self.provenance, **rate}


@dataclass
class Audio:
    """An audio extractor: the whole 16 kHz mono waveform of a video -> (T, dim) float16 rows."""

    name: str
    step_s: float
    dim: int
    features: Callable[[np.ndarray], np.ndarray]
    provenance: dict

    def metadata(self) -> dict[str, str]:
        return dict(self.provenance)


@dataclass(frozen=True)
class Backbone:
    """Everything the pipeline knows about one backbone (see the module docstring)."""

    name: str  # its key: features.<name>, results/features/<name>/, table features/<name>
    kind: str  # one of KINDS
    summary: str  # one line for the config reference: what it is, rate and size, paper weights
    step_s: float  # seconds per feature row (the default settings')
    dim: int  # row size (the default settings')
    build: Callable[[dict, str], Visual | Audio]  # (settings, device) -> extractor
    paper: bool = False  # one of the paper's: on by default; any other is off until enabled
    version: int = 1  # output version: bump when its features change (eao.versions)
    settings: tuple[Setting, ...] = ()  # beyond weights and seed
    weighted: bool = True  # takes `weights` and `seed` (log-mel has no weights)
    weights_help: str = "A library name, a local path, or random."
    speedups: tuple[str, ...] = ()  # of SPEEDUPS, applied by eao.features.visual
    # EAO's released evaluation features: (pickle, key) holding these rows, e.g. ("resnet", "2d")
    released: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name) or self.name.startswith("text"):
            raise ValueError(f"backbone {self.name!r}: a name is [a-z][a-z0-9_]*, not text*")
        if self.kind not in KINDS:
            raise ValueError(f"backbone {self.name}: kind {self.kind!r} is not one of {KINDS}")
        unknown = set(self.speedups) - set(SPEEDUPS)
        if unknown:
            raise ValueError(f"backbone {self.name}: unknown speed-ups {sorted(unknown)}")
        keys = [s.key for s in self.settings]
        if len(set(keys)) < len(keys) or set(keys) & set(RESERVED_KEYS):
            raise ValueError(
                f"backbone {self.name}: settings {keys} repeat a key or use one of {RESERVED_KEYS}"
            )
        # the audio slot is the audio CNN's: 40 mel bands at 100 frames per second (eao.timeline)
        if self.kind == "audio" and (self.dim, self.step_s) != (N_MELS, 1 / FRAMES_PER_SECOND):
            raise ValueError(
                f"backbone {self.name}: an audio backbone gives {N_MELS}-d rows at "
                f"{FRAMES_PER_SECOND}/s (the audio CNN's log-mel input)"
            )

    @property
    def table(self) -> str:
        """The `table` key its shards record (eao.data.corpus checks it)."""
        return f"features/{self.name}"

    def defaults(self) -> dict[str, Any]:
        """Its settings' defaults, weights and seed included (not `enabled`)."""
        base = {"weights": "random", "seed": 0} if self.weighted else {}
        return base | {s.key: s.default for s in self.settings}

    def setting_keys(self) -> list[str]:
        """The settings that change its rows: weights, seed and its own."""
        return list(self.defaults())


@dataclass
class Text:
    """A text extractor: caption texts -> per text (tokens, (n, dim) float32 token features)."""

    name: str
    dim: int
    encode: Callable[[list[str]], list[tuple[list[str], np.ndarray]]]
    provenance: Callable[[], dict]  # asked after encoding (word2vec counts unknown words)


@dataclass(frozen=True)
class TextEncoder:
    """A text encoder's spec (`TEXT_SPEC` of its module): rule extract_text's `--encoder NAME`,
    config features.text.<name>, pretrain.text choices. Its settings are the same for every
    encoder: weights, seed and an optional tokenizer folder."""

    name: str
    summary: str  # the config reference's line
    build: Callable[[dict, str], Text]  # (settings, device) -> extractor
    paper: bool = False  # one of the paper's (pretrain.text defaults to the first)
    version: int = 1  # output version: bump when its features change (eao.versions)
    weights_help: str = "A library name, a local path, or random."
    tokenizer_help: str = "Tokenizer folder for CLIP with random weights."
    # rules a change of `weights` reruns: a file converted first (word2vec) is its rule's input
    weights_reruns: tuple[str, ...] = ("extract_text",)

    @property
    def table(self) -> str:
        return f"text_features/{self.name}"
