"""Visual backbones: the 2D ResNet-152 trunk and the 3D ResNeXt-101, their preprocessing, and
strict loading of checkpoints in the public formats (written here with random tensors: the real
weights cannot be downloaded in tests)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
import torchvision.models as tvm
from torch.nn import functional as F

from eao.backbones import resnet2d, resnext3d
from eao.backbones.resnet2d import ResNet2DTrunk, build_resnet152, normalize_frames
from eao.backbones.resnext3d import build_resnext101, make_clips
from eao.backbones.weights import WeightsNotFound

V1_FILE = "resnet152-394f9c45.pth"  # torchvision's name for the paper's ImageNet weights


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The machine is shared; one thread keeps these forward passes from fighting other jobs.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blobs(seed: int, h: int, w: int) -> torch.Tensor:
    """A uint8 RGB image (h, w, 3) of smooth random colour blobs: images that differ in layout,
    not just in i.i.d. noise (which spatial pooling would average to the same vector)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, 4, 6, generator=g)
    big = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return (big[0].permute(1, 2, 0) * 255).to(torch.uint8)


# --- 3D ResNeXt-101 -------------------------------------------------------------------------


def _expected_resnext_shapes() -> dict[str, tuple[int, ...]]:
    """Every state_dict key of Hara's ResNeXt-101 (32 groups, shortcut B), from the spec's rules."""
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7, 7)}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("bn1", 64)
    inplanes = 64
    for s, (blocks, planes) in enumerate(
        zip([3, 4, 23, 3], [128, 256, 512, 1024], strict=True), start=1
    ):
        mid, out = 32 * (planes // 32), 2 * planes
        for b in range(blocks):
            p = f"layer{s}.{b}"
            cin = inplanes if b == 0 else out
            shapes[f"{p}.conv1.weight"] = (mid, cin, 1, 1, 1)
            shapes[f"{p}.conv2.weight"] = (mid, mid // 32, 3, 3, 3)
            shapes[f"{p}.conv3.weight"] = (out, mid, 1, 1, 1)
            bn(f"{p}.bn1", mid)
            bn(f"{p}.bn2", mid)
            bn(f"{p}.bn3", out)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (out, cin, 1, 1, 1)
                bn(f"{p}.downsample.1", out)
        inplanes = out
    shapes["fc.weight"] = (400, 2048)
    shapes["fc.bias"] = (400,)
    return shapes


@pytest.fixture(scope="module")
def resnext_random():
    return build_resnext101("random", seed=0)


@pytest.fixture(scope="module")
def resnext_state(resnext_random) -> dict[str, torch.Tensor]:
    """Tensors shaped like resnext-101-kinetics.pth, a different random value in every entry (so a
    key loaded into the wrong place shows), still well-conditioned enough for a finite forward.
    Without num_batches_tracked, as in the 2017 file."""
    g = torch.Generator().manual_seed(1)
    state = {}
    for k, v in resnext_random[0].state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if k.endswith("running_var"):
            state[k] = v + 0.5 * torch.rand(v.shape, generator=g)
        else:
            state[k] = v + 0.01 * torch.randn(v.shape, generator=g)
    return state


def _save_hara(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """The layout of Hara's checkpoint: training state around a DataParallel state_dict."""
    torch.save(
        {
            "epoch": 1,
            "arch": "resnext-101",
            "state_dict": {"module." + k: v for k, v in state.items()},
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1, 2]}]},
        },
        path,
    )
    return path


def test_resnext_keys_and_shapes_follow_the_spec(resnext_random):
    model, _ = resnext_random
    expected = _expected_resnext_shapes()
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(expected) == 626
    assert got == expected
    assert got["layer1.0.conv2.weight"] == (128, 4, 3, 3, 3)  # the spec's example


def test_resnext_output_and_stage_shapes(resnext_random):
    model, _ = resnext_random
    seen = {}
    names = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")
    hooks = [
        getattr(model, n).register_forward_hook(
            lambda _m, _i, out, n=n: seen.__setitem__(n, tuple(out.shape[2:]))
        )
        for n in names
    ]
    try:
        y = model(make_clips(torch.zeros(20, 112, 112, 3, dtype=torch.uint8)))
    finally:
        for h in hooks:
            h.remove()
    assert y.shape == (2, 2048) and torch.isfinite(y).all()
    assert seen == {
        "conv1": (16, 56, 56),
        "maxpool": (8, 28, 28),
        "layer1": (8, 28, 28),
        "layer2": (4, 14, 14),
        "layer3": (2, 7, 7),
        "layer4": (1, 4, 4),
    }
    with pytest.raises(ValueError, match="16, 112, 112"):
        model(torch.zeros(1, 3, 8, 112, 112))


def test_resnext_loads_hara_checkpoint(tmp_path, resnext_state):
    path = _save_hara(tmp_path / "resnext-101-kinetics.pth", resnext_state)
    model, prov = build_resnext101(str(path))
    loaded = model.state_dict()
    for k, v in resnext_state.items():
        assert torch.equal(loaded[k], v), k
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert (prov.backbone, prov.weights, prov.sha256) == ("resnext101", str(path), _sha256(path))
    frames = torch.stack([_blobs(i, 112, 112) for i in range(20)])
    y = model(make_clips(frames))
    assert y.shape == (2, 2048) and torch.isfinite(y).all()


def test_resnext_loads_flat_layout(tmp_path, resnext_state):
    path = tmp_path / "resnext101.pth"
    torch.save(resnext_state, path)
    model, _ = build_resnext101(str(path))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in resnext_state.items())


@pytest.mark.parametrize(
    "change, named",
    [
        ("missing", "layer3.22.conv2.weight"),
        ("unexpected", "layer5.0.conv1.weight"),
        ("shape", "fc.weight"),
    ],
)
def test_resnext_mismatched_checkpoint_names_the_key(tmp_path, resnext_state, change, named):
    state = dict(resnext_state)
    if change == "missing":
        del state[named]
    elif change == "unexpected":
        state[named] = torch.zeros(1)
    else:
        state[named] = torch.zeros(10, 2048)
    path = _save_hara(tmp_path / "bad.pth", state)
    with pytest.raises(ValueError) as err:
        build_resnext101(str(path))
    msg = str(err.value)
    assert named in msg and change in msg and str(path) in msg
    assert "num_batches_tracked" not in msg  # absent from the file, and tolerated


def test_resnext_without_a_file_says_what_to_download(tmp_path):
    with pytest.raises(WeightsNotFound, match="resnext-101-kinetics.pth"):
        build_resnext101("kinetics")
    with pytest.raises(WeightsNotFound, match="not found"):
        build_resnext101(str(tmp_path / "nowhere.pth"))


def test_resnext_random_init_is_seeded_and_well_conditioned(resnext_random, capsys):
    model, prov = resnext_random
    again, prov_again = build_resnext101("random", seed=0)
    assert "RANDOM" in capsys.readouterr().err
    a, b = model.state_dict(), again.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert prov == prov_again and (prov.weights, prov.seed) == ("random", 0)
    videos = [torch.stack([_blobs(s * 100 + i, 112, 112) for i in range(16)]) for s in (1, 2)]
    y = model(torch.cat([make_clips(v) for v in videos]))
    assert torch.isfinite(y).all() and y.abs().max() < 1e3
    assert F.cosine_similarity(y[0], y[1], dim=0) < 0.999


def test_make_clips_pads_before_mean_subtraction():
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (33, 112, 112, 3), generator=g, dtype=torch.uint8)
    clips = make_clips(frames)
    assert clips.shape == (3, 3, 16, 112, 112) and clips.dtype == torch.float32
    mean = torch.tensor([110.6, 103.2, 96.3]).view(3, 1, 1)
    for i in range(48):
        got = clips[i // 16, :, i % 16]  # (3, 112, 112)
        want = frames[i].permute(2, 0, 1).float() - mean if i < 33 else -mean.expand(3, 112, 112)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
    assert make_clips(frames[:16]).shape == (1, 3, 16, 112, 112)
    assert make_clips(frames[:0]).shape == (0, 3, 16, 112, 112)


# --- 2D ResNet-152 --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torchvision_resnet() -> tvm.ResNet:
    """A torchvision ResNet-152 whose every parameter and BN statistic is random (default init
    leaves BN at 1/0/0/1, which would hide a mixed-up key) and whose residual branches are damped
    so eval-mode activations stay moderate."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = tvm.resnet152(weights=None).eval()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                scale = 0.2 if name.endswith("bn3") or name.endswith("downsample.1") else 1.0
                m.weight.copy_(scale * (0.5 + torch.rand(m.weight.shape, generator=g)))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory, torchvision_resnet) -> Path:
    """Saved like torchvision's IMAGENET1K_V1 file: a plain state_dict, classifier included."""
    path = tmp_path_factory.mktemp("resnet") / "resnet152-random.pth"
    torch.save(torchvision_resnet.state_dict(), path)
    return path


def test_trunk_equals_torchvision_layer4_pooled(torchvision_resnet, resnet_file):
    trunk, prov = build_resnet152(str(resnet_file))
    assert not trunk.training and not any(p.requires_grad for p in trunk.parameters())
    assert not any(k.startswith(("fc.", "avgpool.")) for k in trunk.state_dict())
    assert (prov.weights, prov.sha256) == (str(resnet_file), _sha256(resnet_file))
    x = torch.randn(1, 3, 64, 96)  # non-square: layer4 is 2x3
    pooled = {}
    hook = torchvision_resnet.avgpool.register_forward_hook(
        lambda _m, _i, out: pooled.__setitem__("x", out.flatten(1))
    )
    try:
        with torch.no_grad():
            torchvision_resnet(x)
    finally:
        hook.remove()
    y = trunk(x)
    assert y.shape == (1, 2048)
    torch.testing.assert_close(y, pooled["x"])


def test_trunk_loads_wrapped_dataparallel_file(tmp_path, torchvision_resnet):
    state = {"module." + k: v for k, v in torchvision_resnet.state_dict().items()}
    state = {k: v for k, v in state.items() if not k.startswith("module.fc.")}  # trunk-only file
    path = tmp_path / "wrapped.pth"
    torch.save({"epoch": 3, "state_dict": state}, path)
    trunk, _ = build_resnet152(str(path))
    assert torch.equal(
        trunk.state_dict()["layer3.35.conv2.weight"],
        torchvision_resnet.state_dict()["layer3.35.conv2.weight"],
    )


@pytest.mark.parametrize(
    "change, named", [("missing", "layer3.35.conv2.weight"), ("unexpected", "layer5.weight")]
)
def test_trunk_mismatched_file_names_the_key(tmp_path, torchvision_resnet, change, named):
    state = dict(torchvision_resnet.state_dict())
    if change == "missing":
        del state[named]
    else:
        state[named] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as err:
        build_resnet152(str(path))
    msg = str(err.value)
    assert named in msg and change in msg and str(path) in msg
    assert "fc." not in msg  # the classifier in the file is not a mismatch


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch) -> Path:
    """TORCH_HOME with nothing cached; any download attempt fails the test instead of hanging."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download weights")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path / "hub" / "checkpoints"


def test_v1_file_name_is_torchvisions():
    url = tvm.ResNet152_Weights.IMAGENET1K_V1.url
    assert os.path.basename(urlparse(url).path) == V1_FILE


@pytest.mark.parametrize(
    "spec, filename, warns",
    [
        ("IMAGENET1K_V1", V1_FILE, False),
        ("ResNet152_Weights.IMAGENET1K_V1", V1_FILE, False),
        ("IMAGENET1K_V2", "resnet152-f82ba261.pth", True),
        ("DEFAULT", "resnet152-f82ba261.pth", True),
    ],
)
def test_uncached_torchvision_weights_say_where_to_put_the_file(
    empty_torch_home, capsys, spec, filename, warns
):
    with pytest.raises(WeightsNotFound) as err:
        build_resnet152(spec)
    msg = str(err.value)
    assert filename in msg and str(empty_torch_home) in msg and "local .pth path" in msg
    assert ("IMAGENET1K_V1" in capsys.readouterr().err) == warns


def test_cached_torchvision_weights_load_and_are_hash_checked(
    empty_torch_home, resnet_file, monkeypatch
):
    empty_torch_home.mkdir(parents=True)
    cached = empty_torch_home / V1_FILE
    cached.write_bytes(b"half a download")
    with pytest.raises(ValueError, match="394f9c45"):
        build_resnet152("IMAGENET1K_V1")
    # A file that passes the hash check (faked: no real file has our random weights' hash).
    cached.unlink()
    cached.symlink_to(resnet_file)
    real = _sha256(resnet_file)
    monkeypatch.setattr(resnet2d, "sha256_file", lambda _p: "394f9c45" + real[8:])
    _, prov = build_resnet152("IMAGENET1K_V1")
    assert (prov.weights, prov.sha256) == ("IMAGENET1K_V1", "394f9c45" + real[8:])
    with pytest.raises(WeightsNotFound, match="IMAGENET1K_V1"):
        build_resnet152("IMAGENET22K")


def test_resnet_random_init_is_seeded_and_well_conditioned(capsys):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    trunk, prov = build_resnet152("random", seed=7)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is untouched
    assert "RANDOM" in capsys.readouterr().err
    assert prov.as_metadata() == {
        "backbone": "resnet152",
        "weights": "random",
        "weights_seed": "7",
    }
    again, _ = build_resnet152("random", seed=7)
    other, _ = build_resnet152("random", seed=8)
    a, b, c = trunk.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["layer2.0.conv2.weight"], c["layer2.0.conv2.weight"])
    images = torch.stack([_blobs(1, 96, 128), _blobs(2, 96, 128)])
    y = trunk(normalize_frames(images))
    assert y.shape == (2, 2048) and torch.isfinite(y).all() and y.abs().max() < 1e3
    assert F.cosine_similarity(y[0], y[1], dim=0) < 0.999


def test_normalize_frames_exact_values():
    frame = torch.tensor([[[[0, 0, 0], [255, 128, 7]]]], dtype=torch.uint8)  # (1, 1, 2, 3)
    x = normalize_frames(frame)
    assert x.shape == (1, 3, 1, 2) and x.dtype == torch.float32
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for c in range(3):
        for w, value in enumerate((0, (255, 128, 7)[c])):
            want = (value / 255 - mean[c]) / (std[c] + 1e-8)
            assert x[0, c, 0, w].item() == pytest.approx(want, abs=1e-6)
    assert x[0, 0, 0, 0].item() == pytest.approx(-2.117904, abs=1e-5)  # -0.485 / 0.229
    assert x[0, 0, 0, 1].item() == pytest.approx(2.248908, abs=1e-5)  # 0.515 / 0.229


def test_trunk_keys_are_torchvisions_without_the_head():
    trunk = ResNet2DTrunk(tvm.resnet18(weights=None))  # any torchvision ResNet; 18 is cheap
    full = tvm.resnet18(weights=None).state_dict()
    want = {k for k in full if not k.startswith("fc.")}
    assert set(trunk.state_dict()) == want
    assert resnext3d.MEAN == (110.6, 103.2, 96.3) and resnet2d.STD == (0.229, 0.224, 0.225)
