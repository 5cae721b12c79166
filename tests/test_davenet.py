"""The fast audio CNN (eao.model.davenet: token layout, convs as GEMMs) against a plain Conv2d
evaluation of the same modules: outputs, gradients, BatchNorm statistics, state_dict layout."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from eao.model import davenet
from eao.model.davenet import ResDavenet

CHANNELS = (8, 8, 16, 16, 32, 32, 64)


def plain_block(block: davenet.SpeechBasicBlock, x: torch.Tensor) -> torch.Tensor:
    out = F.relu(block.bn1(block.conv1(x)))
    out = block.bn2(block.conv2(out))
    shortcut = x if block.downsample is None else block.downsample(x)
    return F.relu(out + shortcut)


def plain_forward(net: ResDavenet, spec: torch.Tensor) -> torch.Tensor:
    """The official structure: (B, 1, n_mels, F) through the modules' own Conv2d/BatchNorm2d."""
    x = F.relu(net.bn1(net.conv1(spec.unsqueeze(1))))
    for i in range(net.n_stages):
        for block in getattr(net, f"layer{i + 1}"):
            x = plain_block(block, x)
    return x.squeeze(2)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp(min=1e-12)).item()


@pytest.mark.parametrize("im2col_from", [0, 16, 10**6])  # all stages GEMMs; mixed; official only
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("frames", [256, 100])
def test_fast_equals_plain_conv2d(monkeypatch, im2col_from, train, frames):
    monkeypatch.setattr(davenet, "IM2COL_MIN_CHANNELS", im2col_from)
    torch.manual_seed(0)
    fast = ResDavenet(channels=CHANNELS)
    for m in fast.modules():  # non-trivial BatchNorm parameters and running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.uniform_(-0.5, 0.5)
            m.running_var.data.uniform_(0.5, 2.0)
    plain = copy.deepcopy(fast)
    fast.train(train)
    plain.train(train)
    spec = torch.rand(3, 40, frames) * -80
    x_fast, x_plain = spec.clone().requires_grad_(), spec.clone().requires_grad_()
    y_fast, y_plain = fast(x_fast), plain_forward(plain, x_plain)
    assert y_fast.shape == y_plain.shape == (3, 64, -(-frames // 64))
    assert rel(y_fast, y_plain) < 1e-5
    g = torch.randn_like(y_plain)
    (y_fast * g).sum().backward()
    (y_plain * g).sum().backward()
    assert rel(x_fast.grad, x_plain.grad) < 1e-4
    grads = dict(plain.named_parameters())
    for name, p in fast.named_parameters():
        q = grads[name]
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert rel(p.grad, q.grad) < 1e-4, name
    want = plain.state_dict()
    for name, t in fast.state_dict().items():  # running statistics updated alike
        assert torch.allclose(t.float(), want[name].float(), rtol=1e-5, atol=1e-6), name


def test_state_dict_keys_and_shapes_are_the_official_conv2d_ones():
    net = ResDavenet()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["conv1.weight"] == (128, 1, 40, 1)
    assert shapes["layer1.0.conv1.weight"] == (128, 128, 1, 9)
    assert shapes["layer1.0.downsample.0.weight"] == (128, 128, 1, 1)
    assert shapes["layer6.0.conv2.weight"] == (4096, 4096, 1, 9)
    assert shapes["layer6.0.bn2.running_var"] == (4096,)
    assert all(isinstance(m, torch.nn.Conv2d) for n, m in net.named_modules() if "conv" in n)
    assert sum(p.numel() for p in net.parameters()) == 314_710_018
