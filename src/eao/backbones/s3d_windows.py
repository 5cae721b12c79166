"""S3D's windowing: frames of one video arriving in chunks -> overlapping model inputs, by a
`Recipe` (decode rate, window, stride, padding; eao.backbones.s3d). Kept apart from the network
so that each module reads in one sitting."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Recipe:
    name: str
    fps: float  # decode rate
    window: int  # frames per window
    stride: int  # frames between window starts (fps/stride = 1 feature per second)
    lead: int  # frames of the window before its step start
    pad: str  # "edge" (repeat first/last frame) or "zeros"


RECIPES: dict[str, Recipe] = {
    # The S3D authors' recipe as relayed by COOT: 16 fps, 32-frame windows at stride 16; window k
    # = frames [16k - 8, 16k + 24), centred on second k; edge frames repeat past either end.
    "16fps_32x16": Recipe("16fps_32x16", fps=16.0, window=32, stride=16, lead=8, pad="edge"),
    # VideoCLIP (fairseq MMPT): 30 fps, non-overlapping 30-frame chunks, zero-padded at the end.
    "30fps_30": Recipe("30fps_30", fps=30.0, window=30, stride=30, lead=0, pad="zeros"),
}
DEFAULT_RECIPE = "16fps_32x16"


class Windows:
    """Frames of ONE video arriving in chunks -> the recipe's model inputs.

    Window k covers frames [k*stride - lead, k*stride - lead + window); there are ceil(T/stride)
    windows for T frames. Frames outside [0, T) are the first/last frame ('edge') or black
    ('zeros'). A window is returned by push() as soon as all its real frames have arrived, the
    rest by finish(); the result does not depend on the chunking. Between calls at most the
    frames still needed are held (fewer than window + stride), never the whole video."""

    def __init__(self, recipe: Recipe) -> None:
        if recipe.pad not in ("edge", "zeros"):
            raise ValueError(f"recipe {recipe.name}: pad {recipe.pad!r} is not edge or zeros")
        if not 0 <= recipe.lead < recipe.window or recipe.stride < 1:
            raise ValueError(f"recipe {recipe.name}: need 0 <= lead < window and stride >= 1")
        self.recipe = recipe
        self._buf: np.ndarray | None = None  # frames [self._base, self._seen)
        self._base = 0
        self._seen = 0  # frames received
        self._done = 0  # windows returned
        self._finished = False

    def _start(self, k: int) -> int:
        return k * self.recipe.stride - self.recipe.lead

    def push(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (k, H, W, 3) -> float32 (n, 3, window, H, W) in [0, 1]: every window complete."""
        if self._finished:
            raise RuntimeError("Windows.push after finish: one Windows per video")
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
            raise ValueError(
                f"expected uint8 frames (k, H, W, 3), got {frames.dtype} {frames.shape}"
            )
        if self._buf is None:
            self._buf = frames[:0].copy()
        elif frames.shape[1:] != self._buf.shape[1:]:
            raise ValueError(f"frame size changed: {frames.shape[1:]} after {self._buf.shape[1:]}")
        self._buf = np.concatenate([self._buf, frames])
        self._seen += len(frames)
        # Window k is complete when its last frame has arrived.
        n = 0
        while self._start(self._done + n) + self.recipe.window <= self._seen:
            n += 1
        return self._emit(n)

    def finish(self) -> torch.Tensor:
        """The remaining windows, padded: (m, 3, window, H, W); H = W = 0 if no frame came."""
        self._finished = True
        total = math.ceil(self._seen / self.recipe.stride)
        return self._emit(total - self._done)

    def _emit(self, n: int) -> torch.Tensor:
        r = self.recipe
        if self._buf is None:
            return torch.empty(0, 3, r.window, 0, 0)
        idx = self._start(self._done) + np.arange(n)[:, None] * r.stride + np.arange(r.window)
        real = (idx >= 0) & (idx < self._seen)
        idx = np.clip(idx, 0, max(self._seen - 1, 0)) - self._base
        out = self._buf[idx]  # (n, window, H, W, 3)
        if r.pad == "zeros":
            out = out * real[:, :, None, None, None].astype(np.uint8)
        self._done += n
        # Keep only frames a later window may need: from the next window's start (>= 0) on.
        keep = min(max(self._start(self._done), 0), self._seen)
        self._buf, self._base = self._buf[keep - self._base :].copy(), keep
        video = torch.from_numpy(np.ascontiguousarray(out))
        return video.permute(0, 4, 1, 2, 3).float().div_(255.0)
