"""Gated embedding unit (context gating), the token and final projections of EAO (docs/model.md)."""

from __future__ import annotations

import torch
from torch import nn


class ContextGating(nn.Module):
    """`y * sigmoid(fc(y))`: a learned per-feature gate computed from the features themselves."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        # The reference writes glu(cat([y, fc(y)], 1)); the element-wise form is the same math
        # for (B, D) and (B, N, D) inputs and needs no concatenated copy.
        return y * torch.sigmoid(self.fc(y))


class GatedEmbeddingUnit(nn.Module):
    """Linear `fc` then context gating `cg`; no output normalisation (unlike Miech et al.'s GEU).
    State-dict keys `fc.*` and `cg.fc.*` as in the official checkpoints."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.cg = ContextGating(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cg(self.fc(x))
