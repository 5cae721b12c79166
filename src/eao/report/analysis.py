"""The report's model analyses: attention between modalities (Fig. 3 of "Everything at Once –
Multi-modal Fusion Transformer for Video Retrieval", CVPR 2022) and the thumbnails of the
qualitative retrieval grids (its supplement's Fig. 1).

Attention: the clips' text, video and audio tokens go through the fusion block's first
attention together (one joint t+v+a sequence, as the figure's 3x3 query/key matrices need; the
model itself attends within the pairs and single modalities it fuses). Per head, the attention
probabilities are averaged over the valid query tokens of one modality and summed over the keys
of another: the share of attention a query of modality q gives to modality k. Computed here
with an explicit softmax (the model uses SDPA, which does not return probabilities), without
positional rotation (RoPE variants differ from the model by that)."""

from __future__ import annotations

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


THUMBNAIL_FPS = 2.0  # frames decoded per second up to the thumbnail's time


def thumbnail(path: str, seconds: float, height: int = 90) -> np.ndarray | None:
    """One RGB frame of the video near `seconds` (within 1 / THUMBNAIL_FPS s; the last frame
    when `seconds` is past the end), about `height` pixels high, decoded through the project's
    decoding (eao.io: displayed size after rotation, ffmpeg's autorotate, stall guard). None if
    it cannot be probed or decoded: the grid shows a grey tile. Decodes from the start at
    THUMBNAIL_FPS and stops at the frame (index windows are short videos or their start)."""
    from eao.io.decode import DecodeError, FrameSpec, iter_frames
    from eao.io.ffmpeg import ProbeError, probe

    try:
        info = probe(path)
    except (ProbeError, OSError):
        return None
    if not (info.has_video and info.width and info.height):
        return None
    # the shorter side scaled so that the displayed (rotated) frame is `height` high
    short = (
        height if info.height <= info.width else max(2, round(height * info.width / info.height))
    )
    wanted, seen, last = int(round(max(seconds, 0.0) * THUMBNAIL_FPS)), 0, None
    frames = iter_frames(path, FrameSpec(THUMBNAIL_FPS, short), info.width, info.height, chunk=8)
    try:
        for chunk in frames:
            if seen + len(chunk) > wanted:
                return np.ascontiguousarray(chunk[wanted - seen])
            seen, last = seen + len(chunk), chunk[-1]
    except (DecodeError, OSError):
        return None if last is None else np.ascontiguousarray(last)
    finally:
        frames.close()  # stops ffmpeg when the frame came before the end
    return None if last is None else np.ascontiguousarray(last)
