"""The visual backbones of feature extraction, and the batcher that feeds them.

A `Visual` says which frames a backbone needs (`FrameSpec`: ffmpeg's fps/scale/crop), how a
chunk of uint8 frames becomes model inputs, and the model. A `Batcher` collects inputs from
many videos into batches of equal shape, so that short videos do not make small batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import torch

from eao.io.decode import FrameSpec


@dataclass
class Visual:
    """A visual backbone: which frames it needs, how frames become model inputs, the model."""

    name: str
    frames: FrameSpec
    step_s: float  # seconds per feature row
    dim: int
    # uint8 frames chunk -> model inputs; None for a backbone whose inputs span chunks (windows)
    to_inputs: Callable[[np.ndarray], torch.Tensor] | None
    model: Callable[[torch.Tensor], torch.Tensor]
    provenance: dict
    chunk: int = 64  # frames per decode chunk (a multiple of 16 for 3D clips)
    memory_format: torch.memory_format = torch.contiguous_format
    # Overlapping windows (S3D) need frames across chunk boundaries: a fresh stateful windower
    # per video replaces to_inputs (push(chunk) -> inputs, finish() -> the last inputs).
    windows: Callable[[], object] | None = None


@dataclass(frozen=True)
class S3DSettings:
    """S3D's extraction settings (eao.backbones.s3d): windowing recipe, output, input size."""

    recipe: str = "16fps_32x16"
    output: str = "mixed_5c"
    size: int = 224  # square side; the paper's 224 (the demo runs 64 to stay fast on CPU)


def build_visual(
    name: str,
    weights: str,
    seed: int,
    device: str,
    channels_last: bool = True,
    fold_bn: bool = True,
    s3d: S3DSettings | None = None,
) -> Visual:
    """The backbone `name` ready to run on `device`. channels_last: the conv nets run in NHWC
    (NDHWC for 3D), which oneDNN and cuDNN execute faster (1.39x for ResNet-152 on 2 CPU
    cores, measured). fold_bn: their BatchNorms folded into the convs (1.07x / 1.10x per row
    at one thread, eao.backbones.inference). Both change results only by float rounding."""
    if name == "s3d":
        return _build_s3d(weights, seed, device, s3d or S3DSettings())
    vis = _build_visual(name, weights, seed, device)
    if name in ("resnet152", "resnext101"):
        if channels_last:
            fmt = torch.channels_last if name == "resnet152" else torch.channels_last_3d
            vis.model = vis.model.to(memory_format=fmt)
            vis.memory_format = fmt
        if fold_bn:
            from eao.backbones.inference import prepare_for_inference

            vis.model = prepare_for_inference(vis.model)
    return vis


def _build_visual(name: str, weights: str, seed: int, device: str) -> Visual:
    if name == "resnet152":
        from eao.backbones.resnet2d import build_resnet152, normalize_frames

        model, prov = build_resnet152(weights, seed)
        return Visual(
            name,
            FrameSpec(1, 224),
            1.0,
            2048,
            lambda x: normalize_frames(torch.from_numpy(x)),
            model.to(device),
            prov.as_metadata(),
        )
    if name == "resnext101":
        from eao.backbones.resnext3d import build_resnext101, make_clips

        model, prov = build_resnext101(weights, seed)
        return Visual(
            name,
            FrameSpec(24, 112, 112),
            16 / 24,
            2048,
            lambda x: make_clips(torch.from_numpy(x)),
            model.to(device),
            prov.as_metadata(),
        )
    if name == "clip":
        from eao.backbones.clip import CLIPEncoder

        enc = CLIPEncoder(weights, seed=seed, device=device)
        return Visual(
            name,
            FrameSpec(1, 224, 224),
            1.0,
            enc.image_dim,
            torch.from_numpy,
            enc.encode_images,
            enc.provenance.as_metadata(),
        )
    raise ValueError(f"unknown visual backbone {name!r}")


def _build_s3d(weights: str, seed: int, device: str, settings: S3DSettings) -> Visual:
    """S3D at one feature per second: the recipe's fps, a square centre crop at `size` (the
    short side scaled to `size`, then cropped: the same square as cropping first and resizing),
    windows of frames in [0, 1]. Kept in NCTHW: its separable convs were not measured faster in
    channels_last, and its BatchNorms are left unfolded (not measured)."""
    from eao.backbones.s3d import OUTPUTS, RECIPES, Windows, build_s3d

    if settings.recipe not in RECIPES:
        raise ValueError(f"s3d recipe must be one of {sorted(RECIPES)}, got {settings.recipe!r}")
    if settings.output not in OUTPUTS:
        raise ValueError(f"s3d output must be one of {sorted(OUTPUTS)}, got {settings.output!r}")
    recipe = RECIPES[settings.recipe]
    model, prov = build_s3d(weights, seed, settings.output)
    meta = prov.as_metadata() | {
        "s3d_recipe": recipe.name,
        "s3d_output": settings.output,
        "input_size": str(settings.size),
    }
    return Visual(
        "s3d",
        FrameSpec(recipe.fps, settings.size, settings.size),
        recipe.stride / recipe.fps,
        OUTPUTS[settings.output],
        None,
        model.to(device),
        meta,
        chunk=max(64, recipe.window),
        windows=lambda: Windows(recipe),
    )


class Batcher:
    """Collects model inputs from many videos into batches of equal-shaped items."""

    def __init__(self, vis: Visual, batch_size: int, device: str, autocast: bool):
        self.model, self.memory_format = vis.model, vis.memory_format
        self.batch_size, self.device, self.autocast = batch_size, device, autocast
        self.pending: dict[tuple, list] = defaultdict(list)  # shape -> [(video, pos, input)]
        self.outputs: dict[Hashable, dict[int, torch.Tensor]] = defaultdict(dict)

    def add(self, video: Hashable, start: int, inputs: torch.Tensor) -> None:
        """Inputs of `video` (any key) at positions start, start + 1, ..."""
        key = tuple(inputs.shape[1:])
        self.pending[key].extend((video, start + j, x) for j, x in enumerate(inputs))
        while len(self.pending[key]) >= self.batch_size:
            self._run(key, self.batch_size)

    def rows(self, video: Hashable, count: int) -> np.ndarray | None:
        """The `count` feature rows of `video`, in order, once flushed; None for no rows."""
        out = self.outputs.pop(video, {})
        return torch.stack([out[p] for p in range(count)]).numpy() if count else None

    def drop(self, video: Hashable) -> None:
        """Forget `video`'s inputs not yet run and its outputs (a decode that failed)."""
        for key, items in self.pending.items():
            self.pending[key] = [item for item in items if item[0] != video]
        self.outputs.pop(video, None)

    def flush(self) -> None:
        for key in list(self.pending):
            while self.pending[key]:
                self._run(key, self.batch_size)

    @torch.inference_mode()
    def _run(self, key: tuple, n: int) -> None:
        items, self.pending[key] = self.pending[key][:n], self.pending[key][n:]
        batch = torch.stack([x for _, _, x in items]).to(self.device, non_blocking=True)
        batch = batch.contiguous(memory_format=self.memory_format)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            feats = self.model(batch).float()
        # unit rows as the reference, kept as float16 right away: a shard's rows wait in memory
        # until the shard is written, and half the bytes matters at 1000 videos per shard
        feats = torch.nn.functional.normalize(feats, dim=1).to(torch.float16).cpu()
        for (video, pos, _), f in zip(items, feats, strict=True):
            self.outputs[video][pos] = f
