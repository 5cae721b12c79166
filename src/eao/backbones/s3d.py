"""Video stream: S3D-G trained end to end on HowTo100M with MIL-NCE -> 1024 (mixed_5c) or 512.

S3D-G (Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018) is an Inception
network with separable (2+1)D convolutions and self-gating. The weights are those of Miech et al.,
"End-to-End Learning of Visual Representations from Uncurated Instructional Videos", CVPR 2020,
as published in PyTorch by the authors (github.com/antoine77340/S3D_HowTo100M, the file
`s3d_howto100m.pth`). The module names and numerics follow that repository's `s3dg.py` so the file
loads key for key: the space-to-depth stem, TF-'SAME'-style max pools (zero pad, ceil mode),
BatchNorm with PyTorch's default eps (1e-5, as there), a global mean over T, H, W giving the
1024-d `mixed_5c`, and `fc` (1024 -> 512) giving the joint text-video `video_embedding`.
Input: RGB in [0, 1], no mean/std. The text branch (`text_module.*`) is not built here.

Frames become model inputs by a `Recipe` (decode rate, window, stride): eao.backbones.s3d_windows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from eao.backbones.s3d_windows import DEFAULT_RECIPE, RECIPES, Windows
from eao.backbones.spec import Backbone, Setting, Visual
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

BACKBONE = "s3d"
OUTPUTS = {"mixed_5c": 1024, "video_embedding": 512}
WEIGHTS_URL = "https://www.rocq.inria.fr/cluster-willow/amiech/howto100m/s3d_howto100m.pth"
TEXT_PREFIX = "text_module."


# (b0 1x1, b1 1x1, b1 3x3, b2 1x1, b2 3x3, b3 pool-1x1) per Inception block, as in the reference.
_INCEPTION = {
    "mixed_3b": (64, 96, 128, 16, 32, 32),
    "mixed_3c": (128, 128, 192, 32, 96, 64),
    "mixed_4b": (192, 96, 208, 16, 48, 64),
    "mixed_4c": (160, 112, 224, 24, 64, 64),
    "mixed_4d": (128, 128, 256, 24, 64, 64),
    "mixed_4e": (112, 144, 288, 32, 64, 64),
    "mixed_4f": (256, 160, 320, 32, 128, 128),
    "mixed_5b": (256, 160, 320, 32, 128, 128),
    "mixed_5c": (384, 192, 384, 48, 128, 128),
}


class STConv3D(nn.Module):
    """Conv (no bias) -> BN -> ReLU; `separable`: a 1xkxk spatial conv then a kx1x1 temporal one,
    each with its BN and ReLU (conv1/bn1, conv2/bn2 as in the reference)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int],
        padding: int | tuple[int, int, int] = 0,
        separable: bool = False,
        stride: int = 1,
    ) -> None:
        super().__init__()
        self.separable = separable
        if separable:
            p = padding if isinstance(padding, int) else padding[1]
            pt = padding if isinstance(padding, int) else padding[0]
            self.conv1 = nn.Conv3d(
                cin, cout, (1, *kernel[1:]), (1, stride, stride), (0, p, p), bias=False
            )
            self.bn1 = nn.BatchNorm3d(cout)
            self.conv2 = nn.Conv3d(
                cout, cout, (kernel[0], 1, 1), (stride, 1, 1), (pt, 0, 0), bias=False
            )
            self.bn2 = nn.BatchNorm3d(cout)
        else:
            self.conv1 = nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
            self.bn1 = nn.BatchNorm3d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = F.relu(self.bn2(self.conv2(x)))
        return x


class SelfGating(nn.Module):
    """x * sigmoid(fc(mean of x over T, H, W)), per channel."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return w[:, :, None, None, None] * x


class TFMaxPool3d(nn.Module):
    """The reference's 'SAME' max pool: a fixed zero pad of max(k - s, 0) per dim (the larger half
    after), then a max pool in ceil mode. No parameters."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        pad: list[int] = []
        for k, s in reversed(list(zip(kernel, stride, strict=True))):  # F.pad: W, H, then T
            total = max(k - s, 0)
            pad += [total // 2, total - total // 2]
        self.pad = tuple(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.pad, value=0.0)
        return F.max_pool3d(x, self.kernel, self.stride, ceil_mode=True)


class InceptionBlock(nn.Module):
    """Four branches (1x1; 1x1 -> sep 3x3; 1x1 -> sep 3x3; 3x3 pool -> 1x1), each self-gated,
    concatenated on channels."""

    def __init__(self, cin: int, n0: int, n1a: int, n1b: int, n2a: int, n2b: int, n3: int) -> None:
        super().__init__()
        self.conv_b0 = STConv3D(cin, n0, (1, 1, 1))
        self.conv_b1_a = STConv3D(cin, n1a, (1, 1, 1))
        self.conv_b1_b = STConv3D(n1a, n1b, (3, 3, 3), padding=1, separable=True)
        self.conv_b2_a = STConv3D(cin, n2a, (1, 1, 1))
        self.conv_b2_b = STConv3D(n2a, n2b, (3, 3, 3), padding=1, separable=True)
        self.maxpool_b3 = nn.MaxPool3d(3, stride=1, padding=1)
        self.conv_b3_b = STConv3D(cin, n3, (1, 1, 1))
        self.gating_b0 = SelfGating(n0)
        self.gating_b1 = SelfGating(n1b)
        self.gating_b2 = SelfGating(n2b)
        self.gating_b3 = SelfGating(n3)
        self.output_dim = n0 + n1b + n2b + n3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.gating_b0(self.conv_b0(x))
        b1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        b2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        b3 = self.gating_b3(self.conv_b3_b(self.maxpool_b3(x)))
        return torch.cat((b0, b1, b2, b3), dim=1)


class S3D(nn.Module):
    """The video part of the reference S3D (same state_dict keys). forward: (B, 3, T, H, W) RGB in
    [0, 1] with T, H, W even -> (B, OUTPUTS[output]). `space_to_depth=False` builds the MIL-NCE
    training repository's default stem instead (3 -> 64, 3x7x7, stride 2), the only layout
    difference of its checkpoints; `build_s3d` picks it from the file."""

    def __init__(self, output: str = "mixed_5c", space_to_depth: bool = True) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"S3D output {output!r}: expected one of {sorted(OUTPUTS)}")
        self.output, self.space_to_depth = output, space_to_depth
        if space_to_depth:
            self.conv1 = STConv3D(24, 64, (2, 4, 4), padding=(1, 2, 2))
        else:
            self.conv1 = STConv3D(3, 64, (3, 7, 7), padding=(1, 3, 3), stride=2)
        self.conv_2b = STConv3D(64, 64, (1, 1, 1))
        self.conv_2c = STConv3D(64, 192, (3, 3, 3), padding=1, separable=True)
        self.gating = SelfGating(192)
        self.maxpool_2a = TFMaxPool3d((1, 3, 3), (1, 2, 2))
        self.maxpool_3a = TFMaxPool3d((1, 3, 3), (1, 2, 2))
        self.maxpool_4a = TFMaxPool3d((3, 3, 3), (2, 2, 2))
        self.maxpool_5a = TFMaxPool3d((2, 2, 2), (2, 2, 2))
        cin = 192
        for name, widths in _INCEPTION.items():
            block = InceptionBlock(cin, *widths)
            self.add_module(name, block)
            cin = block.output_dim
        self.fc = nn.Linear(cin, OUTPUTS["video_embedding"])

    @staticmethod
    def _space_to_depth(x: torch.Tensor) -> torch.Tensor:
        # (B, C, T, H, W) -> (B, 8C, T/2, H/2, W/2); channel = ((dt*2 + dh)*2 + dw)*C + c.
        b, c, t, h, w = x.shape
        x = x.reshape(b, c, t // 2, 2, h // 2, 2, w // 2, 2)
        x = x.permute(0, 3, 5, 7, 1, 2, 4, 6)
        return x.reshape(b, 8 * c, t // 2, h // 2, w // 2)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both outputs: {'mixed_5c': (B, 1024), 'video_embedding': (B, 512)}."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected video (B, 3, T, H, W), got {tuple(x.shape)}")
        if self.space_to_depth:
            if any(d % 2 for d in x.shape[2:]):
                raise ValueError(f"S3D needs even T, H, W (space to depth), got {tuple(x.shape)}")
            # Conv padded by 1 in front then cropped by 1: TF 'SAME' for the 2x4x4 stem.
            x = self.conv1(self._space_to_depth(x))[:, :, 1:, 1:, 1:]
        else:
            x = self.conv1(x)
        x = self.maxpool_2a(x)
        x = self.gating(self.conv_2c(self.conv_2b(x)))
        x = self.mixed_3c(self.mixed_3b(self.maxpool_3a(x)))
        x = self.maxpool_4a(x)
        for name in ("mixed_4b", "mixed_4c", "mixed_4d", "mixed_4e", "mixed_4f"):
            x = getattr(self, name)(x)
        x = self.mixed_5c(self.mixed_5b(self.maxpool_5a(x)))
        pooled = x.mean(dim=(2, 3, 4))  # global average over whatever T, H, W remain
        return {"mixed_5c": pooled, "video_embedding": self.fc(pooled)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[self.output]


def build_s3d(weights: str, seed: int = 0, output: str = "mixed_5c") -> tuple[S3D, Provenance]:
    """The network in eval mode without gradients, and where its weights came from.
    weights: a path to s3d_howto100m.pth (a flat state_dict) or a MIL-NCE training checkpoint
    ('module.' keys under 'state_dict'); the text branch (text_module.*) is dropped by name and
    every other key must fit. Or 'random' (seeded). The caller records `output` itself."""
    if output not in OUTPUTS:
        raise ValueError(f"S3D output {output!r}: expected one of {sorted(OUTPUTS)}")
    if is_random(weights):
        model, prov = _random(seed, output), Provenance(BACKBONE, "random", seed=seed)
        warn_random(BACKBONE, seed)
    elif is_path(weights):
        state = read_state_dict(weights)
        stem = state.get("conv1.conv1.weight")
        # A 3-channel stem is the training repository's default (no space to depth).
        model = S3D(output, space_to_depth=not (stem is not None and stem.shape[1] == 3))
        load_strict(model, state, weights, drop_prefixes=(TEXT_PREFIX,))
        prov = Provenance(BACKBONE, weights, sha256=sha256_file(weights))
    else:
        raise WeightsNotFound(
            f"s3d weights {weights!r}: no library provides this model. Download "
            f"s3d_howto100m.pth ({WEIGHTS_URL}, from github.com/antoine77340/S3D_HowTo100M) "
            "and set weights to its path, or use random"
        )
    return model.eval().requires_grad_(False), prov


def _random(seed: int, output: str) -> S3D:
    # Kaiming-normal (fan_in, ReLU) convs, as the MIL-NCE training code's 'kaiming_normal' init,
    # keep the scale through each conv (eval-mode BN is the identity); the ten self-gatings would
    # still halve it each (sigmoid(~0) = 0.5, ~1e-3 overall), so their bias starts at 4 (gates
    # ~0.98, still input-dependent). fork_rng: the caller's RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = S3D(output)
        for m in model.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, SelfGating):
                nn.init.constant_(m.fc.bias, 4.0)
    return model


def _even_size(text: str) -> int:
    """The input side: an even integer >= 32 (the stem folds 2x2 pixels)."""
    value = int(text)
    if value < 32 or value % 2:
        raise ValueError(f"expected an even integer >= 32, got {text!r}")
    return value


def _one_of(choices: dict) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {sorted(choices)}, got {text!r}")
        return text

    return parse


def _build(settings: dict, device: str) -> Visual:
    """One feature per second: the recipe's fps, a square centre crop at `size` (the short side
    scaled to `size`, then cropped: the same square as cropping first and resizing), windows of
    frames in [0, 1]. Kept in NCTHW: its separable convs were not measured faster in
    channels_last, and its BatchNorms are left unfolded (not measured)."""
    recipe, output, size = RECIPES[settings["recipe"]], settings["output"], settings["size"]
    model, prov = build_s3d(settings["weights"], settings["seed"], output)
    meta = prov.as_metadata() | {
        "s3d_recipe": recipe.name,
        "s3d_output": output,
        "input_size": str(size),
    }
    return Visual(
        BACKBONE,
        FrameSpec(recipe.fps, size, size),
        recipe.stride / recipe.fps,
        OUTPUTS[output],
        None,
        model.to(device),
        meta,
        chunk=max(64, recipe.window),
        windows=lambda: Windows(recipe),
    )


SETTINGS = (
    Setting(
        "recipe",
        {
            "type": "string",
            "enum": list(RECIPES),
            "default": DEFAULT_RECIPE,
            "description": "Windows of 1 feature/s: 16 fps, 32-frame windows centred on each "
            "second (S3D authors' recipe), or 30 fps non-overlapping 30-frame chunks (VideoCLIP).",
        },
        _one_of(RECIPES),
    ),
    Setting(
        "output",
        {
            "type": "string",
            "enum": list(OUTPUTS),
            "default": "mixed_5c",
            "description": "mixed_5c (1024-d, what EAO uses) or video_embedding (512-d, "
            "MIL-NCE's joint space).",
        },
        _one_of(OUTPUTS),
    ),
    Setting(
        "size",
        {
            "type": "integer",
            "minimum": 32,
            "multipleOf": 2,
            "default": 224,
            "description": "Square input side in pixels (MIL-NCE: 224).",
        },
        _even_size,
    ),
)

SPEC = Backbone(
    name=BACKBONE,
    kind="3d",
    summary="S3D (MIL-NCE, HowTo100M), 1 feature/s, 1024-d mixed_5c (weights: path to "
    "s3d_howto100m.pth).",
    step_s=1.0,
    dim=OUTPUTS["mixed_5c"],
    build=_build,
    paper=True,  # the paper's S3D rows (Tables 1 and 3)
    settings=SETTINGS,
    weights_help="s3d_howto100m.pth, a MIL-NCE training checkpoint, or random.",
    released=("s3d", "s3d"),
)
