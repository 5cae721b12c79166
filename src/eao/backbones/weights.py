"""Weights specs: what a config's `weights:` value means, and the provenance shards record.

A spec is one of
- a standard name that the library resolves (a torchvision weights enum name such as
  `IMAGENET1K_V1`, or a Hugging Face hub id such as `openai/clip-vit-base-patch32`); offline
  this works only when the file is already in the library's cache;
- a local file or folder path (a `.pth` checkpoint, a `save_pretrained` folder);
- `random`: a seeded, well-conditioned random init. Never chosen silently: builders print a
  warning line to stderr (so it lands in the rule's log) and the provenance says `random`.
A spec that cannot be resolved raises WeightsNotFound, which says what to put where.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eao.errors import BadInput
from eao.io.digest import sha256_file  # noqa: F401  (the backbones' import of it)

if TYPE_CHECKING:  # torch is imported lazily: text-only users of this module need not load it
    import torch

RANDOM = "random"


class WeightsNotFound(FileNotFoundError):
    """Weights that cannot be loaded here; the message says which file to put where."""


@dataclass(frozen=True)
class Provenance:
    backbone: str  # e.g. "resnet152"
    weights: str  # the spec as given: a name, a path, or "random"
    sha256: str | None = None  # of the weights file, when there is one file
    seed: int | None = None  # for random weights

    def as_metadata(self) -> dict[str, str]:
        meta = {"backbone": self.backbone, "weights": self.weights}
        if self.sha256:
            meta["weights_sha256"] = self.sha256
        if self.seed is not None:
            meta["weights_seed"] = str(self.seed)
        return meta


def is_random(spec: str) -> bool:
    return spec.strip().lower() == RANDOM


def is_path(spec: str) -> bool:
    """A spec naming a local file or folder (as opposed to a library name)."""
    return os.path.sep in spec or spec.startswith(".") or os.path.exists(spec)


def warn_random(backbone: str, seed: int) -> None:
    print(
        f"WARNING: {backbone} runs with RANDOM weights (seed {seed}): its features carry no "
        "pretrained knowledge. This is a config choice (weights: random), recorded in every shard.",
        file=sys.stderr,
        flush=True,
    )


# --- Strict checkpoint loading (shared by the conv-net builders) ---------------------------------


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a `.pth` file: a plain state_dict, or a training checkpoint holding one under
    'state_dict'; a leading 'module.' (saved from nn.DataParallel) is stripped from every key.
    Loaded with weights_only=True: a checkpoint is data, never code. BadInput naming the file
    when it is no such file (truncated, text, ...)."""
    import torch

    from eao.io.torch_file import read_checkpoint

    if not os.path.isfile(path):
        raise WeightsNotFound(f"weights file not found: {path}")
    obj = read_checkpoint(path)
    if isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise BadInput("not a state_dict (a dict of tensors, or one under 'state_dict')", path)
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _listing(what: str, items: list[str], shown: int = 5) -> str:
    more = f", ... ({len(items) - shown} more)" if len(items) > shown else ""
    return f"{len(items)} {what}: {', '.join(items[:shown])}{more}"


def load_strict(
    model: torch.nn.Module,
    state: dict[str, torch.Tensor],
    source: str,
    drop_prefixes: tuple[str, ...] = (),
    optional_suffixes: tuple[str, ...] = (".num_batches_tracked",),
) -> None:
    """Copy `state` into `model`; every key must match by name and shape, else a ValueError lists
    the offending keys and `source`. Keys starting with `drop_prefixes` (a head the model does not
    have) are ignored; model keys ending with `optional_suffixes` may be missing from the file
    (BatchNorm's num_batches_tracked postdates 2017 checkpoints and does not affect eval)."""
    state = {k: v for k, v in state.items() if not k.startswith(drop_prefixes)}
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(optional_suffixes)]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    problems = [
        _listing(what, keys)
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("wrong shapes", wrong),
        )
        if keys
    ]
    if problems:
        name = type(model).__name__
        raise ValueError(f"{source}: weights do not fit {name}: " + "; ".join(problems))
    model.load_state_dict({**own, **state}, strict=True)
