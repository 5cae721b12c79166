"""The training run's configuration: TrainConfig (optimisation and sampling, the paper's
pretraining by default) and `from_dict`, which builds a config dataclass from the command
line's JSON. Free of torch, so the workflow can read TrainConfig's fields when it is parsed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypeVar

from eao.errors import BadInput, reading

T = TypeVar("T")  # the config dataclass from_dict builds


def paper_weights() -> dict:
    """The paper's loss weights (eao.train.loss.PAPER_WEIGHTS; imported here, not at the top,
    because eao.train.loss imports torch)."""
    from eao.train.loss import PAPER_WEIGHTS

    return dict(PAPER_WEIGHTS)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and sampling; defaults are the paper's pretraining (docs/model.md)."""

    epochs: int = 15
    batch_videos: int = 224  # global batch, over all ranks; each video gives n_clips clips
    n_clips: int = 10
    min_time: float = 8.0
    max_words: int = 20
    video_tokens: int = 12
    audio_frames: int = 768
    audio_shift: str = "code"  # "code": always +min_time/2 (released code); "paper": ±; "none"
    lr: float = 5e-5
    lr_gamma: float = 0.9  # ExponentialLR, stepped once per epoch
    temperature: float = 0.05
    loss_weights: dict = field(default_factory=paper_weights)
    precision: str = "bf16"  # autocast dtype on GPU: bf16 | fp16 | fp32; CPU always runs fp32
    workers: int = 2
    seed: int = 0
    checkpoint_every_steps: int = 0  # 0: only at epoch ends
    log_every_steps: int = 10
    eval_mode: bool = False  # train with the model in eval mode (BatchNorm frozen): fine-tuning
    # Micro-batches per step (per rank), for batches that do not fit: the same update as the whole
    # batch, because the loss still sees every clip as a negative (Trainer.accumulated_step).
    accumulate: int = 1
    # Video order of an epoch. "random": a permutation (the paper). "locality": row groups
    # shuffled, then videos shuffled within windows of 8 groups (eao.data.clips.locality_order):
    # for shards with many videos per row group (ours have one), a batch then decodes a few row
    # groups instead of one per video.
    order: str = "random"


def from_dict(cls: type[T], values: dict) -> T:
    """Build a config dataclass from a plain dict; BadInput naming an unknown key or the value
    the class refuses (the dicts come from the command line's JSON)."""
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise BadInput(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    with reading(cls.__name__):
        return cls(**values)
