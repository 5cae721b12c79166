"""Where torch runs: one rule for every stage (extraction, training, evaluation)."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> str:
    """'auto' -> cuda when a GPU is visible, else cpu; anything else as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name
