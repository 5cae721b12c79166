"""The report's model analyses: attention between modalities (paper Fig. 3) and qualitative
retrieval grids (supplement Fig. 1).

Attention: the clips' text, video and audio tokens go through the fusion block's first
attention together (one joint t+v+a sequence, as the figure's 3x3 query/key matrices need; the
model itself attends within the pairs and single modalities it fuses). Per head, the attention
probabilities are averaged over the valid query tokens of one modality and summed over the keys
of another: the share of attention a query of modality q gives to modality k. Computed here
with an explicit softmax (the model uses SDPA, which does not return probabilities), without
positional rotation (RoPE variants differ from the model by that)."""

from __future__ import annotations

import subprocess

import numpy as np
import torch

from eao.model import EverythingAtOnce
from eao.model.fusion import MODALITIES


@torch.no_grad()
def modality_attention(model: EverythingAtOnce, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """(heads, 3, 3): for each head, the mean over clips and valid query tokens of modality
    q (rows: text, video, audio) of the attention mass on the keys of modality k (columns)."""
    model.eval()
    toks = model.tokens(batch)
    missing = [m for m in MODALITIES if m not in toks]
    if missing:
        raise ValueError(f"attention analysis needs text, video and audio; missing {missing}")
    x = torch.cat([toks[m][0] for m in MODALITIES], dim=1)  # (B, N, W)
    valid = torch.cat([toks[m][1] for m in MODALITIES], dim=1)  # (B, N)
    owner = torch.cat([torch.full((toks[m][0].shape[1],), i) for i, m in enumerate(MODALITIES)])
    block = model.fusion.blocks[0]
    b, n, w = x.shape
    heads = block.attn.heads
    qkv = block.attn.qkv(block.norm1(x)).view(b, n, 3, heads, w // heads).permute(2, 0, 3, 1, 4)
    scores = qkv[0] @ qkv[1].transpose(-1, -2) * (w // heads) ** -0.5  # (B, H, N, N)
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    probs = scores.softmax(-1)
    out = np.zeros((heads, 3, 3))
    for q in range(3):
        rows = (owner == q)[None, :] & valid  # (B, N) valid queries of modality q
        for k in range(3):
            mass = probs[..., owner == k].sum(-1)  # (B, H, N): attention on modality k
            out[:, q, k] = (mass * rows[:, None]).sum((0, 2)).numpy() / max(int(rows.sum()), 1)
    return out


def thumbnail(path: str, seconds: float, height: int = 90) -> np.ndarray | None:
    """One RGB frame of the video at `seconds`, `height` pixels high (None if it cannot be
    decoded: the grid shows a grey tile)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-ss", f"{max(seconds, 0):.2f}", "-i", path,
           "-frames:v", "1", "-vf", f"scale=-2:{height}", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "pipe:1"]  # fmt: skip
    probe = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=width,height", "-of", "csv=p=0", path]  # fmt: skip
    try:
        size = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=True)
        width, h = (int(v) for v in size.stdout.strip().split(",")[:2])
        raw = subprocess.run(cmd, capture_output=True, timeout=30, check=True).stdout
    except (subprocess.SubprocessError, ValueError, OSError):
        return None
    out_w = int(round(width * height / h / 2)) * 2
    if len(raw) != out_w * height * 3:
        return None
    return np.frombuffer(raw, np.uint8).reshape(height, out_w, 3)
