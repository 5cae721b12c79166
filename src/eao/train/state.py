"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model, optimizer, scheduler and grad-scaler states, the RNG states, the
data position (the epoch and the next batch of that epoch) and both configs. Batches are a pure
function of (seed, epoch, position) (eao.train.trainer.epoch_batches), so the data position is two
integers and no sampler state needs saving. It also holds the metrics records logged so far
(`history`, eao.train.metrics), from which a resumed run rewrites metrics.jsonl and TensorBoard
(all but the finished model.pt, which nothing resumes from).
Files hold only tensors and plain containers and load with torch.load(weights_only=True). Writes
are atomic (temp file, then rename).

Where they go: an unfinished run keeps last.pt and epoch-NNN.pt in OUT_DIR/checkpoints.partial
(RESUME_DIR), and the finished run renames that folder to OUT_DIR/checkpoints (`keep_checkpoints`).
The workflow declares checkpoints/ as an output, and Snakemake deletes a job's outputs when it
fails and before it reruns it: resume state inside a declared output would not survive the kill
it is for (workflow/rules/train.smk says why no output flag helps).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import eao
from eao.checkpoints import save_atomic
from eao.errors import BadInput
from eao.io.atomic import atomic_dir
from eao.io.torch_file import read_checkpoint

# The unfinished run's checkpoints, beside OUT_DIR's outputs; "checkpoints" once it is finished.
RESUME_DIR = "checkpoints.partial"

# What `Trainer.checkpoint` writes and `Trainer.restore` reads.
KEYS = (
    *("model", "model_config", "train_config"),  # what is trained, and how
    *("optimizer", "scheduler", "scaler", "rng"),  # the state that continues it exactly
    *("epoch", "batch", "step"),  # where it stopped
)


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


def save(path: str | Path, **entries: Any) -> None:
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


def keep_checkpoints(resume_dir: Path, final: Path) -> None:
    """A finished run's checkpoints: `resume_dir` becomes `final` whole (an old one replaced),
    without last.pt (epoch-NNN.pt of the last epoch is the same state). Nothing is left to
    resume, so a forced rerun starts over."""
    resume_dir.mkdir(parents=True, exist_ok=True)  # a run resumed at its very end made none
    with atomic_dir(final) as tmp:
        # A rename on one file system; across two (a shadow directory elsewhere) shutil.move
        # copies, and the resume folder stays until the copy is whole.
        tmp.rmdir()
        shutil.move(resume_dir, tmp)
    # After the rename, not before: a kill in between leaves a harmless last.pt in `final`
    # rather than a resume folder without its last.pt.
    (final / "last.pt").unlink(missing_ok=True)
