"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, optimizer, scheduler and grad-scaler states, the RNG states, the
data position (the epoch and the next batch of that epoch) and both configs. Batches are a pure
function of (seed, epoch, position) (eao.train.trainer.epoch_batches), so the data position is two
integers and no sampler state needs saving. Files hold only tensors and plain containers and load
with torch.load(weights_only=True). Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

import eao
from eao.checkpoints import save_atomic
from eao.errors import BadInput
from eao.io.torch_file import read_checkpoint

# What `Trainer.checkpoint` writes and `Trainer.restore` reads.
KEYS = ("model", "model_config", "train_config", "optimizer", "scheduler", "scaler", "rng",
        "epoch", "batch", "step")  # fmt: skip


@dataclass
class Position:
    epoch: int = 0  # the epoch to run next (0-based)
    batch: int = 0  # the next batch within that epoch
    step: int = 0  # optimizer steps taken so far, over all epochs


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, **entries) -> None:
    """torch.save of a dict, atomically, with the code version stamped in."""
    save_atomic({"eao_version": eao.__version__, **entries}, Path(path))


def load(path: str | Path) -> dict:
    """A training checkpoint (weights_only); BadInput naming the file when it is none, e.g. a
    model imported with `eao import-checkpoint`, which has no training state to resume."""
    ckpt = read_checkpoint(path)
    missing = [k for k in KEYS if k not in ckpt]
    if missing:
        raise BadInput(f"not a training checkpoint of eao train (no {', '.join(missing)})", path)
    return ckpt
