"""ResDAVEnet v2: the trainable audio CNN on log-mel spectrograms (docs/model.md).

(B, n_mels, F) -> (B, channels[-1], F / 2**len(blocks)). The first conv collapses the mel axis,
then residual stages of (1, 9) convolutions each halve the time axis; with the default six
stages one audio token covers 64 spectrogram frames (0.64 s). Module names and registration
order follow the official code, so the state_dict keys are `davenet.*` of docs/model.md.

CPU fast path for the wide stages (same parameters, same numbers within fp32 rounding): a stage
whose input has >= IM2COL_MIN_CHANNELS channels runs in token layout (B, T, C), each (1, 9) conv
a matmul of the im2col of the time axis with the Conv2d weight viewed as (C_out, C_in * 9). With
the full channels (... 2048, 4096) these stages hold 97 % of the weights over a dozen to a few
dozen frames, a shape oneDNN's conv runs at ~55 GFLOP/s against ~117 for the GEMM (2 CPU cores,
20 clips, fwd + bwd: the 4096-channel conv 4.5 s -> 1.85 s, the 2048 one 2.95 -> 1.35 s). The
narrow stages keep the official Conv2d/BatchNorm2d evaluation: there oneDNN's conv is as fast
or faster, and BatchNorm's NCHW kernel is more accurate than its channels-last one on inputs of
large mean (the log-mel stem: 1e-5 relative gradient error against 1e-6), which the
tests/test_model.py reference check resolves. On CUDA everything stays on cuDNN (unmeasured).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = 9  # time width of every residual conv
FRAMES_PER_TOKEN = 2**6  # spectrogram frames per audio token with the default six stages
AUDIO_POOLING = ("none", "nearest", "max_pool")  # audio-token pooling of the long-video configs
# CPU: stages with this many input channels or more run as GEMMs (see module doc). 512-channel
# convs over 96 frames measured faster in oneDNN (0.13 s against 0.32 s, 20 clips fwd + bwd).
IM2COL_MIN_CHANNELS = 1024


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, (1, KERNEL), stride=stride, padding=(0, KERNEL // 2), bias=False)


def conv_tokens(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A (1, k) or 1x1 Conv2d (no bias) on token-layout x: (B, T, C_in) -> (B, T', C_out)."""
    w = conv.weight  # (C_out, C_in, 1, k): state_dict shape unchanged
    c_out, c_in, _, k = w.shape
    stride, pad = conv.stride[1], conv.padding[1]
    if k == 1:  # the shortcut projection: strided rows times the weight
        return x[:, ::stride] @ w.view(c_out, c_in).t()
    cols = F.pad(x, (0, 0, pad, pad)).unfold(1, k, stride)  # (B, T', C_in, k): a view
    b, t = cols.shape[:2]
    return (cols.reshape(b * t, c_in * k) @ w.view(c_out, c_in * k).t()).view(b, t, c_out)


def bn_tokens(x: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    """BatchNorm2d (or its SyncBatchNorm conversion) on token-layout x (B, T, C), through the
    module itself (running statistics as ever) on the (B, C, 1, T) view: channels-last strides,
    no copy. (B * T, C, 1, 1) rows would be the same numbers 3.6x slower (40 x 384 x 128)."""
    return bn(x.transpose(1, 2).unsqueeze(2)).squeeze(2).transpose(1, 2)


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
        """The official evaluation: (B, C_in, 1, T) -> (B, C_out, 1, T / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The same block in token layout: (B, T, C_in) -> (B, T / stride, C_out)."""
        out = bn_tokens(conv_tokens(x, self.conv1), self.bn1).relu_()
        out = bn_tokens(conv_tokens(out, self.conv2), self.bn2)
        if self.downsample is None:
            shortcut = x
        else:
            shortcut = bn_tokens(conv_tokens(x, self.downsample[0]), self.downsample[1])
        # In place is safe: BatchNorm's backward needs its input, not its output.
        return out.add_(shortcut).relu_()


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
        x = F.relu(self.bn1(self.conv1(spec.unsqueeze(1))))  # (B, C, 1, F)
        tokens = False
        for i in range(self.n_stages):
            stage = getattr(self, f"layer{i + 1}")
            if not tokens and not x.is_cuda and x.shape[1] >= IM2COL_MIN_CHANNELS:
                x, tokens = x.squeeze(2).transpose(1, 2).contiguous(), True
            for block in stage:
                x = block.forward_tokens(x) if tokens else block(x)
        # token layout: a transposed view (the caller transposes it back for free)
        return x.transpose(1, 2) if tokens else x.squeeze(2)


def pool_audio_tokens(
    x: torch.Tensor,
    mask: torch.Tensor | None,
    n_frames: torch.Tensor,
    n_tokens: int,
    mode: str,
    frames_per_token: int = FRAMES_PER_TOKEN,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Audio-token pooling of the model (reference `create_audio_tokens`, strategies
    'nearest'/'max_pool' of the Table 6 configs): x (B, N, C) DAVEnet tokens, mask (B, N)
    token mask or None, n_frames (B,) valid spectrogram frames. Only when N > n_tokens, per
    item: n_valid = n_frames // frames_per_token tokens (truncating, as the reference); more
    than n_tokens of them are resampled to n_tokens (nearest: F.interpolate; max_pool:
    F.adaptive_max_pool1d), else the first n_tokens tokens are kept. The mask is the first
    n_tokens entries in both cases."""
    if mode not in AUDIO_POOLING:
        raise ValueError(f"unknown audio pooling {mode!r}; expected one of {AUDIO_POOLING}")
    if mode == "none" or x.shape[1] <= n_tokens:
        return x, mask
    out = x[:, :n_tokens].clone()
    n_valid = torch.div(n_frames, frames_per_token, rounding_mode="floor").long()
    for b in torch.nonzero(n_valid > n_tokens).flatten().tolist():
        seq = x[b, : n_valid[b]].T.unsqueeze(0)  # (1, C, n_valid)
        if mode == "nearest":
            pooled = F.interpolate(seq, size=n_tokens, mode="nearest")
        else:
            pooled = F.adaptive_max_pool1d(seq, n_tokens)
        out[b] = pooled.squeeze(0).T
    return out, None if mask is None else mask[:, :n_tokens]
