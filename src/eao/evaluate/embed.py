"""Embed a whole evaluation set in slices, as the reference's `trainer.eval` loop does."""

from __future__ import annotations

import torch
from torch import nn

from eao.progress import progress


def batch_size_of(batch: dict[str, torch.Tensor]) -> int:
    """The common length of dim 0 of every tensor of the batch."""
    sizes = {name: value.shape[0] for name, value in batch.items()}
    if not sizes:
        raise ValueError("empty batch")
    if len(set(sizes.values())) != 1:
        raise ValueError(f"batch tensors disagree on dim 0: {sizes}")
    return next(iter(sizes.values()))


def embed_batches(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    batch_size: int,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """Run `model(slice, force_cross_modal=True)` on consecutive slices of `batch` and return
    every output concatenated on the CPU, rows in the input order.

    Eval mode (BatchNorm uses its running statistics, so slicing does not change the result)
    and no autograd; the model's previous train/eval mode is restored afterwards."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    n = batch_size_of(batch)
    was_training = model.training
    model.eval()
    outputs: dict[str, list[torch.Tensor]] = {}
    try:
        with torch.no_grad():
            for start in progress(range(0, n, batch_size), "embed"):
                sub = {k: v[start : start + batch_size].to(device) for k, v in batch.items()}
                for name, value in model(sub, force_cross_modal=True).items():
                    outputs.setdefault(name, []).append(value.detach().cpu())
    finally:
        model.train(was_training)
    result = {name: torch.cat(parts, dim=0) for name, parts in outputs.items()}
    short = {name: len(value) for name, value in result.items() if len(value) != n}
    if short:
        # An output missing from some slices would shift every later row against the ids.
        raise RuntimeError(f"outputs not produced for all {n} rows: {short}")
    return result
