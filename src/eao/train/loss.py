"""The combinatorial contrastive loss (paper Sec. 3.3; released code `combinatorial_loss.py`).

Six pairs of embeddings are contrasted with a symmetric NCE (both directions summed) at
temperature 0.05; rows where a modality of the pair is empty are left out of that pair; the total
is the weighted mean over the pairs actually computed (divided by the sum of their weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# name -> (embedding A, embedding B, modalities that must be non-empty)
PAIRS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tv": ("text_embed", "video_embed", ("text", "video")),
    "ta": ("text_embed", "audio_embed", ("text", "audio")),
    "va": ("video_embed", "audio_embed", ("video", "audio")),
    "t_va": ("text_embed", "va_embed", ("text", "video", "audio")),
    "v_ta": ("video_embed", "ta_embed", ("text", "video", "audio")),
    "a_tv": ("audio_embed", "tv_embed", ("text", "video", "audio")),
}

PAPER_WEIGHTS = {"tv": 1.0, "ta": 0.1, "va": 0.1, "t_va": 0.1, "v_ta": 0.1, "a_tv": 0.1}


def cosine_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Rows of a against rows of b, each row divided by max(norm, eps) as the reference does."""
    return F.normalize(a, dim=1, eps=eps) @ F.normalize(b, dim=1, eps=eps).t()


def nce(sim: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Symmetric InfoNCE on a square similarity matrix, matches on the diagonal.

    The two directions are summed, not averaged (NormSoftmaxLoss of the released code)."""
    logits = sim / temperature
    a2b = torch.diagonal(F.log_softmax(logits, dim=1)).mean()
    b2a = torch.diagonal(F.log_softmax(logits.t(), dim=1)).mean()
    return -a2b - b2a


def combinatorial_loss(
    out: dict[str, torch.Tensor],
    weights: dict[str, float] = PAPER_WEIGHTS,
    temperature: float = 0.05,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted mean of the pair losses present in `out`; returns (total, {pair: loss}).

    A pair is computed when its weight is non-zero and both embeddings exist. Its rows are the
    samples where every modality of the pair is non-empty; a pair without such rows is skipped
    (its mean would be NaN), and the denominator then leaves out its weight.
    """
    parts: dict[str, torch.Tensor] = {}
    for name, (key_a, key_b, modalities) in PAIRS.items():
        w = float(weights.get(name, 0.0))
        if w == 0.0 or key_a not in out or key_b not in out:
            continue
        keep = torch.ones(out[key_a].shape[0], dtype=torch.bool, device=out[key_a].device)
        for m in modalities:
            mask = out.get(f"{m}_nonempty_input_mask")
            if mask is not None:
                keep = keep & mask.bool()
        if not bool(keep.any()):
            continue
        parts[name] = nce(cosine_matrix(out[key_a][keep], out[key_b][keep]), temperature)
    if not parts:
        raise ValueError("no loss term could be computed: every pair is empty or has weight 0")
    return weighted_total(parts, weights), parts


def weighted_total(parts: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Σ w·L / Σ w over the computed pairs only (the reference's normalisation)."""
    total = sum(float(weights[name]) * loss for name, loss in parts.items())
    return total / sum(float(weights[name]) for name in parts)
