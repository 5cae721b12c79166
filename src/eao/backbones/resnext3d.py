"""3D stream: ResNeXt-101 (Kinetics-400, Hara et al.), 16-frame 112x112 clips -> 2048 per clip.

The network is the CVPR2018 definition of kenshohara/3D-ResNets-PyTorch (cardinality 32,
shortcut B, bottleneck expansion 2), with the same module names so that the public
`resnext-101-kinetics.pth` loads key for key. Preprocessing follows the HowTo100M extractor
(docs/features.md): 24 fps, pixels 0..255 minus a Kinetics mean, non-overlapping clips.
"""

from __future__ import annotations

import math

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

BACKBONE = "resnext101"
MEAN = (110.6, 103.2, 96.3)
CLIP_FRAMES, CLIP_SIZE = 16, 112
CARDINALITY = 32
LAYERS = (3, 4, 23, 3)
PLANES = (128, 256, 512, 1024)
EXPANSION = 2
NUM_CLASSES = 400


def make_clips(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, 112, 112, 3) frames at 24 fps -> float32 (ceil(T/16), 3, 16, 112, 112).
    As the reference: zero-pad to a multiple of 16 frames *before* subtracting the mean (so the
    padding is -mean, not 0), std 1 (+1e-8), non-overlapping clips."""
    x = frames.permute(0, 3, 1, 2).float()  # (T, 3, H, W), 0..255
    pad = -x.shape[0] % CLIP_FRAMES
    x = torch.cat([x, x.new_zeros(pad, *x.shape[1:])])
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    x = (x - mean) / (1.0 + 1e-8)
    # An explicit clip count: view(-1, ...) cannot infer it when T = 0.
    x = x.view(x.shape[0] // CLIP_FRAMES, CLIP_FRAMES, 3, *x.shape[2:]).transpose(1, 2)
    return x.contiguous()


class Bottleneck(nn.Module):
    """1x1x1 -> grouped 3x3x3 (carries the stride) -> 1x1x1, plus a shortcut."""

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        mid = CARDINALITY * (planes // 32)
        out = planes * EXPANSION
        self.conv1 = nn.Conv3d(inplanes, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(
            mid, mid, kernel_size=3, stride=stride, padding=1, groups=CARDINALITY, bias=False
        )
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNeXt3D(nn.Module):
    """ResNeXt-101 32x4d for 3x16x112x112 clips; returns the pooled 2048-d pre-fc feature. `fc`
    exists only because the checkpoint holds it (the reference builds it with last_fc=False)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(
            3, 64, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False
        )
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)  # also halves time
        inplanes = 64
        for i, (blocks, planes) in enumerate(zip(LAYERS, PLANES, strict=True)):
            layer = _make_layer(inplanes, planes, blocks, stride=1 if i == 0 else 2)
            self.add_module(f"layer{i + 1}", layer)
            inplanes = planes * EXPANSION
        # Fixed kernel, as in the reference: time 16/16, space ceil(112/32) -> 1x1x1 output.
        last_t, last_hw = math.ceil(CLIP_FRAMES / 16), math.ceil(CLIP_SIZE / 32)
        self.avgpool = nn.AvgPool3d((last_t, last_hw, last_hw), stride=1)
        self.fc = nn.Linear(inplanes, NUM_CLASSES)
        self._init_like_reference()

    def _init_like_reference(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 16, 112, 112) -> (B, 2048)."""
        if tuple(x.shape[1:]) != (3, CLIP_FRAMES, CLIP_SIZE, CLIP_SIZE):
            # The fixed pool kernel would silently give a vector that is not 2048-d.
            raise ValueError(f"expected clips (B, 3, 16, 112, 112), got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


def _make_layer(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    # Shortcut B: a projection (conv + BN) wherever the shape changes, i.e. block 0 of every
    # stage (layer1 too: 64 -> 256 channels). Type A has no parameters and would not load.
    out = planes * EXPANSION
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(
            nn.Conv3d(inplanes, out, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm3d(out),
        )
    layers = [Bottleneck(inplanes, planes, stride, downsample)]
    layers += [Bottleneck(out, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def build_resnext101(weights: str, seed: int = 0) -> tuple[ResNeXt3D, Provenance]:
    """The network in eval mode without gradients, and where its weights came from.
    weights: a path to resnext-101-kinetics.pth (Hara's checkpoint, 'module.' keys under
    'state_dict') or a flat state_dict (the HowTo100M authors' resnext101.pth); or 'random'."""
    if is_random(weights):
        model, prov = _random(seed), Provenance(BACKBONE, "random", seed=seed)
        warn_random(BACKBONE, seed)
    elif is_path(weights):
        model = ResNeXt3D()
        load_strict(model, read_state_dict(weights), weights)
        prov = Provenance(BACKBONE, weights, sha256=sha256_file(weights))
    else:
        raise WeightsNotFound(
            f"resnext101 weights {weights!r}: no library provides this model. Download "
            "resnext-101-kinetics.pth (Hara et al., github.com/kenshohara/3D-ResNets-PyTorch, "
            "'old pretrained models') and set weights to its path, or use random"
        )
    return model.eval().requires_grad_(False), prov


def _random(seed: int) -> ResNeXt3D:
    # Zero the last BN of every block (gamma = 0): each block starts as its shortcut, so eval-mode
    # activations stay bounded instead of growing through 33 blocks. fork_rng: leave the
    # caller's RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNeXt3D()
    for m in model.modules():
        if isinstance(m, Bottleneck):
            nn.init.zeros_(m.bn3.weight)
    return model


def _build(settings: dict, device: str) -> Visual:
    model, prov = build_resnext101(settings["weights"], settings["seed"])
    return Visual(
        BACKBONE,
        FrameSpec(24, CLIP_SIZE, CLIP_SIZE),  # 24 fps, shorter side 112, centre crop 112
        CLIP_FRAMES / 24,
        2048,
        lambda x: make_clips(torch.from_numpy(x)),
        model.to(device),
        prov.as_metadata(),
    )


SPEC = Backbone(
    name=BACKBONE,
    kind="3d",
    summary="3D ResNeXt-101, 1.5 features/s, 2048-d (weights: path to resnext-101-kinetics.pth).",
    step_s=CLIP_FRAMES / 24,
    dim=2048,
    build=_build,
    paper=True,
    speedups=("channels_last", "fold_bn"),
    released=("resnet", "3d"),
)
