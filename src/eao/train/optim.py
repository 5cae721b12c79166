"""The training optimizer, shared by the training loop and the training benchmark."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_optimizer(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """The paper's Adam, fused: one kernel over all parameters instead of a Python loop of a
    dozen ops per tensor. Same update; on 2 CPU cores over the 315 M parameters of the audio
    CNN, 4.3 s -> 0.74 s a step (foreach: 3.5 s); the paper model has 689 M."""
    return torch.optim.Adam(params, lr=lr, fused=True)
