"""2D stream: torchvision ResNet-152 (ImageNet), layer4 averaged over space -> 2048 per frame.

Reference (HowTo100M's extractor, github.com/antoine77340/video_feature_extractor;
docs/features.md): frames at 1 fps, shorter side 224, no crop; pixels /255 then ImageNet
mean/std (std + 1e-8); the trunk up to layer4; mean over H, W.
The paper's weights are IMAGENET1K_V1 (what `pretrained=True` meant); V2 changes the features.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import torch
from torch import nn

from eao.backbones.spec import Backbone, Visual
from eao.backbones.weights import (
    Provenance,
    WeightsNotFound,
    is_path,
    is_random,
    load_strict,
    read_state_dict,
    sha256_file,
    warn_random,
)
from eao.io.decode import FrameSpec

if TYPE_CHECKING:
    import torchvision.models as tvm

BACKBONE = "resnet152"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PAPER_WEIGHTS = "IMAGENET1K_V1"


def normalize_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (B, H, W, 3) -> float32 (B, 3, H, W), normalised exactly as the reference
    (float32 throughout, so `std + 1e-8` rounds the same way)."""
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / (std + 1e-8)


class ResNet2DTrunk(nn.Module):
    """A torchvision ResNet without avgpool and fc. Submodules keep torchvision's names, so a
    torchvision state_dict (minus fc.*) loads key for key."""

    def __init__(self, resnet: tvm.ResNet) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = (
            resnet.conv1,
            resnet.bn1,
            resnet.relu,
            resnet.maxpool,
        )
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.layer3, self.layer4 = resnet.layer3, resnet.layer4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised, any H and W -> (B, 2048)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


def build_resnet152(weights: str, seed: int = 0) -> tuple[ResNet2DTrunk, Provenance]:
    """The trunk in eval mode without gradients, and where its weights came from.
    weights: a ResNet152_Weights name ('IMAGENET1K_V1', found in the torch hub cache), a local
    .pth path, or 'random' (seeded; zero-init residual branches, see DESIGN.md)."""
    if is_random(weights):
        model, prov = _random(seed), Provenance(BACKBONE, "random", seed=seed)
        warn_random(BACKBONE, seed)
    elif is_path(weights):
        model = _from_file(weights, weights)
        prov = Provenance(BACKBONE, weights, sha256=sha256_file(weights))
    else:
        name, path, sha = _cached_torchvision_file(weights)
        model = _from_file(path, f"{weights} ({path})")
        prov = Provenance(BACKBONE, name, sha256=sha)
    return model.eval().requires_grad_(False), prov


def _torchvision():  # -> the torchvision.models module
    # Imported when a model is built: the workflow reads this module's SPEC when it builds the
    # DAG, and importing torchvision costs seconds per Snakemake job.
    import torchvision.models

    return torchvision.models


def _random(seed: int) -> ResNet2DTrunk:
    # Default init explodes in eval mode (features ~1e7, all images alike); zeroing the last BN of
    # each residual block keeps activations bounded. fork_rng: leave the caller's RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet2DTrunk(_torchvision().resnet152(weights=None, zero_init_residual=True))


def _from_file(path: str, source: str) -> ResNet2DTrunk:
    trunk = ResNet2DTrunk(_torchvision().resnet152(weights=None))
    # The ImageNet files hold the classifier too; the trunk has no use for it.
    load_strict(trunk, read_state_dict(path), source, drop_prefixes=("fc.",))
    return trunk


def _cached_torchvision_file(spec: str) -> tuple[str, str, str]:
    """(enum name, path of the cached file, its sha256) for a ResNet152_Weights name. Never
    downloads: a missing file raises at once instead of hanging on a machine without internet."""
    name = spec.strip().removeprefix("ResNet152_Weights.").upper()
    tvm = _torchvision()
    if name not in tvm.ResNet152_Weights.__members__:
        known = ", ".join(tvm.ResNet152_Weights.__members__)
        raise WeightsNotFound(
            f"unknown resnet152 weights {spec!r}: use one of {known}, a local .pth path, or random"
        )
    enum = tvm.ResNet152_Weights[name]
    name = enum.name  # DEFAULT resolves to the version it stands for in this torchvision
    if name != PAPER_WEIGHTS:
        print(
            f"WARNING: resnet152 weights {name} are not the paper's {PAPER_WEIGHTS}: "
            "the features will differ from HowTo100M's.",
            file=sys.stderr,
            flush=True,
        )
    filename = os.path.basename(urlparse(enum.url).path)
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    path = os.path.join(folder, filename)
    if not os.path.isfile(path):
        raise WeightsNotFound(
            f"resnet152 weights {name} are not in the torch hub cache and cannot be downloaded "
            f"here: put {filename} (from {enum.url}) into {folder}, "
            "or set weights to a local .pth path"
        )
    return name, path, _checked_sha256(path, filename)


def _checked_sha256(path: str, filename: str) -> str:
    # torchvision names its files <arch>-<first hex digits of sha256>.pth; a truncated or
    # corrupt download would otherwise load as garbage or fail with an obscure unpickling error.
    sha = sha256_file(path)
    m = re.search(r"-([a-f0-9]+)\.", filename)
    if m and not sha.startswith(m.group(1)):
        raise ValueError(
            f"{path}: sha256 does not start with {m.group(1)} (a corrupt or partial download); "
            "delete it and fetch it again"
        )
    return sha


def _build(settings: dict, device: str) -> Visual:
    model, prov = build_resnet152(settings["weights"], settings["seed"])
    return Visual(
        BACKBONE,
        FrameSpec(1, 224),  # 1 frame/s, shorter side 224, no crop
        1.0,
        2048,
        lambda x: normalize_frames(torch.from_numpy(x)),
        model.to(device),
        prov.as_metadata(),
    )


SPEC = Backbone(
    name=BACKBONE,
    kind="2d",
    summary="2D ResNet-152, 1 feature/s, 2048-d (weights IMAGENET1K_V1 for the paper's features).",
    step_s=1.0,
    dim=2048,
    build=_build,
    paper=True,
    speedups=("channels_last", "fold_bn"),
    released=("resnet", "2d"),
)
