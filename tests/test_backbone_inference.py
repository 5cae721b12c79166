"""Inference preparation of the conv backbones (eao.backbones.inference): the prepared model
gives the plain model's L2-normalised features up to float rounding (far below the float16 the
shards store), and the built model's weights stay as they were."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.nn import functional as F

from eao.backbones.inference import fold_batchnorm, prepare_for_inference
from eao.backbones.resnet2d import ResNet2DTrunk
from eao.backbones.resnext3d import build_resnext101

FLOAT16_STEP = 1e-3  # float16 resolution near 1; unit-row entries are below that


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The machine is shared; one thread keeps these forward passes from fighting other jobs.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _trained_looking_bn(model: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine terms (fresh ones are the identity
    map, which folding would reproduce even if it got the formula wrong)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            m.weight.data.copy_(0.2 + 0.3 * torch.rand(c, generator=g))
            m.bias.data.copy_(0.05 * torch.randn(c, generator=g))
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def resnet_small() -> ResNet2DTrunk:
    # resnet18's trunk: the torchvision ResNet layout of ResNet-152 (stem, 4 stages, shortcut
    # conv + BN), small enough for a test. BasicBlock pairs conv1/bn1 and conv2/bn2.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trunk = ResNet2DTrunk(tvm.resnet18(weights=None))
    return _trained_looking_bn(trunk, seed=1).to(memory_format=torch.channels_last)


@pytest.fixture(scope="module")
def resnet_bottleneck() -> ResNet2DTrunk:
    # resnet50's Bottleneck is ResNet-152's block (conv1..conv3, bn1..bn3).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trunk = ResNet2DTrunk(tvm.resnet50(weights=None))
    return _trained_looking_bn(trunk, seed=2).to(memory_format=torch.channels_last)


@pytest.fixture(scope="module")
def resnext() -> nn.Module:
    # The 3D network cannot be built smaller (its depth is the checkpoint's); one forward of two
    # clips on one thread is a few seconds.
    model, _ = build_resnext101("random", seed=0)
    return _trained_looking_bn(model, seed=3).to(memory_format=torch.channels_last_3d)


def _blobs(n: int, size: tuple[int, ...], seed: int) -> torch.Tensor:
    """Smooth random blobs (n, 3, *size) in -2..2: inputs that differ in layout, not only in
    i.i.d. noise (which pooling averages to nearly the same feature for every row)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, *(2,) * len(size), generator=g) * 4 - 2
    mode = "bilinear" if len(size) == 2 else "trilinear"
    return F.interpolate(coarse, size=size, mode=mode, align_corners=False)


def _frames(n: int, h: int, w: int) -> torch.Tensor:
    return _blobs(n, (h, w), seed=4).contiguous(memory_format=torch.channels_last)


def _clips(n: int) -> torch.Tensor:
    return _blobs(n, (16, 112, 112), seed=5).contiguous(memory_format=torch.channels_last_3d)


def _assert_same_features(plain: nn.Module, prepared: nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        raw_a, raw_b = plain(x).float(), prepared(x).float()
    a, b = F.normalize(raw_a, dim=1), F.normalize(raw_b, dim=1)
    assert a.shape == b.shape
    assert (a * b).sum(dim=1).min().item() >= 0.99999
    assert (a - b).abs().max().item() < FLOAT16_STEP / 100
    # Random-weight deep nets give nearly one direction for every input, so also compare the
    # raw features, magnitude included: a wrong fold changes them by far more than rounding.
    scale = raw_a.abs().max().item()
    torch.testing.assert_close(raw_b, raw_a, rtol=1e-3, atol=1e-4 * scale)


def _has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@pytest.mark.parametrize("fixture", ["resnet_small", "resnet_bottleneck"])
def test_prepared_resnet_gives_the_same_features(fixture, request):
    model = request.getfixturevalue(fixture)
    x = _frames(2, 64, 114)  # 16:9-like, any width works
    prepared = prepare_for_inference(model, example=x)
    assert not _has_bn(prepared)
    _assert_same_features(model, prepared, x)


def test_prepared_resnext_gives_the_same_features(resnext):
    x = _clips(2)
    prepared = prepare_for_inference(resnext)
    assert not _has_bn(prepared)
    _assert_same_features(resnext, prepared, x)


def test_preparation_leaves_the_model_untouched(resnet_small):
    before = {k: v.clone() for k, v in resnet_small.state_dict().items()}
    prepared = prepare_for_inference(resnet_small)
    assert prepared is not resnet_small and _has_bn(resnet_small)
    after = resnet_small.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not prepared.training
    assert not any(p.requires_grad for p in prepared.parameters())


class _PreActivation(nn.Module):
    """bn1 *before* conv1: the names the folding relies on, in an order it cannot fold."""

    def __init__(self) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(3)  # 3 channels in and out: the wrong fold has valid shapes
        self.conv1 = nn.Conv2d(3, 3, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.bn1(x)).mean(dim=(2, 3))


def test_the_example_catches_a_structure_folding_misreads():
    model = _trained_looking_bn(_PreActivation(), seed=6)
    with pytest.raises(RuntimeError, match="disagrees"):
        prepare_for_inference(model, example=_frames(4, 8, 8))


def test_a_model_without_batchnorm_is_refused():
    with pytest.raises(ValueError, match="no conv followed by a BatchNorm"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()))
