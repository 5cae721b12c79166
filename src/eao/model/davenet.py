"""ResDAVEnet v2: the trainable audio CNN on log-mel spectrograms (spec section 2).

(B, n_mels, F) -> (B, channels[-1], F / 2**len(blocks)). The first conv collapses the mel axis,
then residual stages of (1, 9) convolutions each halve the time axis; with the default six
stages one audio token covers 64 spectrogram frames (0.64 s). Module names and registration
order follow the official code, so the state_dict keys are `davenet.*` of spec Appendix A.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = 9  # time width of every residual conv


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, (1, KERNEL), stride=stride, padding=(0, KERNEL // 2), bias=False)


class SpeechBasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a (projected when the shape changes) shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = _conv(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResDavenet(nn.Module):
    """`channels[0]` = width of the mel-collapsing conv; stage i maps channels[i] ->
    channels[i+1] with `blocks[i]` blocks, the first of stride 2 (stride 2 applies to both axes
    but the height is 1, so only time is halved: L -> ceil(L / 2))."""

    def __init__(
        self,
        n_mels: int = 40,
        channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 2048, 4096),
        blocks: tuple[int, ...] = (2, 2, 1, 1, 1, 1),
    ):
        super().__init__()
        if len(channels) != len(blocks) + 1:
            raise ValueError(f"need len(channels) == len(blocks) + 1, got {channels} {blocks}")
        self.batchnorm1 = nn.BatchNorm2d(1)  # never applied; kept for the official key set
        self.conv1 = nn.Conv2d(1, channels[0], (n_mels, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0])
        for i, n in enumerate(blocks):
            c_in, c_out = channels[i], channels[i + 1]
            stage = [SpeechBasicBlock(c_in, c_out, stride=2)]
            stage += [SpeechBasicBlock(c_out, c_out) for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.n_stages = len(blocks)
        self.out_dim = channels[-1]
        self._init_weights()

    def _init_weights(self) -> None:
        # He-style normal with fan = kernel area x output channels, as the official DAVEnet.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def frames_per_token(self) -> int:
        return 2**self.n_stages

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, F) log-mel -> (B, out_dim, ceil-halved F). No input normalisation."""
        x = F.relu(self.bn1(self.conv1(spec.unsqueeze(1))))
        for i in range(self.n_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x.squeeze(2)
