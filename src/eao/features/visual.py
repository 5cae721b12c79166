"""Visual backbones built for extraction, and the batcher that feeds them.

`build_visual` builds a registered backbone (eao.backbones.registry) and applies the speed-ups
its spec lists. A `Batcher` collects inputs from many videos into batches of equal shape, so
that short videos do not make small batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable

import numpy as np
import torch

from eao.backbones.registry import backbone
from eao.backbones.spec import Visual


def build_visual(
    name: str,
    weights: str = "random",
    seed: int = 0,
    device: str = "cpu",
    channels_last: bool = True,
    fold_bn: bool = True,
    settings: dict | None = None,
) -> Visual:
    """The visual backbone `name` (eao.backbones.registry) ready to run on `device`, with its
    own settings (`settings`, each missing one at its default). channels_last: a backbone that
    lists the speed-up runs in NHWC (NDHWC for 3D), which oneDNN and cuDNN execute faster (1.39x
    for ResNet-152 on 2 CPU cores, measured). fold_bn: its BatchNorms folded into the convs
    (1.07x / 1.10x per row at one thread, eao.backbones.inference). Both change results only
    by float rounding."""
    spec = backbone(name)
    given = spec.defaults() | (settings or {})
    if spec.weighted:
        given |= {"weights": weights, "seed": seed}
    vis = spec.build(given, device)
    if not isinstance(vis, Visual):
        raise ValueError(f"{name} is not a visual backbone (kind {spec.kind})")
    if vis.to_inputs is None and vis.windows is None:
        raise ValueError(f"{name}: its Visual gives neither to_inputs nor windows")
    if channels_last and "channels_last" in spec.speedups:
        fmt = torch.channels_last if spec.kind == "2d" else torch.channels_last_3d
        vis.model = vis.model.to(memory_format=fmt)
        vis.memory_format = fmt
    if fold_bn and "fold_bn" in spec.speedups:
        from eao.backbones.inference import prepare_for_inference

        vis.model = prepare_for_inference(vis.model)
    return vis


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
