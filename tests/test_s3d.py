"""S3D-G (MIL-NCE, HowTo100M): module layout against the reference, strict loading of both
checkpoint layouts (written here from a seeded model: the real weights cannot be downloaded in
tests), output dims, random weights, and the frame-window recipes."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from eao.backbones import s3d
from eao.backbones.s3d import OUTPUTS, RECIPES, S3D, Windows, build_s3d
from eao.backbones.weights import WeightsNotFound

# Derived from github.com/antoine77340/S3D_HowTo100M s3dg.py (S3D('s3d_dict.npy', 512)): its
# state_dict in order, less text_module.*, grouped by first name component; the count is
# sum(p.numel()) over its named_parameters outside text_module (conv and BN weights, gating and
# fc weights and biases; BN running stats are buffers, not counted). The reference's 532 video
# keys = 152 parameters + 76 BatchNorms x 3 buffers (running_mean/var, num_batches_tracked).
REF_PREFIXES = [
    "conv1",
    "conv_2b",
    "conv_2c",
    "gating",
    "mixed_3b",
    "mixed_3c",
    "mixed_4b",
    "mixed_4c",
    "mixed_4d",
    "mixed_4e",
    "mixed_4f",
    "mixed_5b",
    "mixed_5c",
    "fc",
]
REF_VIDEO_PARAMS = 9_670_800
REF_VIDEO_KEYS = 532
# Sentence_Embedding(512) in the same file: a 66250 x 300 word embedding, fc1 300 -> 2048,
# fc2 2048 -> 512.
TEXT_SHAPES = {
    "text_module.word_embd.weight": (66250, 300),
    "text_module.fc1.weight": (2048, 300),
    "text_module.fc1.bias": (2048,),
    "text_module.fc2.weight": (512, 2048),
    "text_module.fc2.bias": (512,),
}


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _clip(seed: int, t: int = 16, size: int = 112) -> torch.Tensor:
    """(1, 3, t, size, size) in [0, 1]: smooth random colour blobs (not i.i.d. noise, which
    pooling would average to nearly the same vector for every seed)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, 3, 4, 4, generator=g)
    return F.interpolate(small, size=(t, size, size), mode="trilinear", align_corners=False)


def _seeded_state(seed: int, space_to_depth: bool = True) -> dict[str, torch.Tensor]:
    """A seeded S3D's state_dict (the well-conditioned random init) with non-trivial BN
    statistics (so buffers must load too)."""
    g = torch.Generator().manual_seed(seed)
    if space_to_depth:
        state = s3d._random(seed, "mixed_5c").state_dict()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            state = S3D(space_to_depth=False).state_dict()
    for k, v in state.items():
        if k.endswith("running_var"):
            v.copy_(torch.rand(v.shape, generator=g) + 0.5)
        elif k.endswith("running_mean"):
            v.copy_(torch.randn(v.shape, generator=g) * 0.1)
    return state


def _reference_model(state: dict[str, torch.Tensor], output: str = "mixed_5c") -> S3D:
    model = S3D(output, space_to_depth=state["conv1.conv1.weight"].shape[1] == 24)
    model.load_state_dict(state)
    return model.eval()


@pytest.fixture(scope="module")
def source() -> dict[str, torch.Tensor]:
    return _seeded_state(11)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Layout against the reference ----------------------------------------------------------


def test_keys_and_parameter_count_match_the_reference():
    model = S3D()
    keys = list(model.state_dict())
    prefixes = list(dict.fromkeys(k.split(".")[0] for k in keys))
    assert prefixes == REF_PREFIXES
    assert len(keys) == REF_VIDEO_KEYS
    assert sum(p.numel() for p in model.parameters()) == REF_VIDEO_PARAMS
    assert not any(k.startswith("text_module.") for k in keys)
    shapes = model.state_dict()
    assert shapes["conv1.conv1.weight"].shape == (64, 24, 2, 4, 4)  # space-to-depth stem
    assert shapes["conv_2c.conv2.weight"].shape == (192, 192, 3, 1, 1)  # separable: temporal
    assert shapes["mixed_5c.gating_b3.fc.weight"].shape == (128, 128)
    assert shapes["fc.weight"].shape == (512, 1024)
    eps = {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)}
    assert eps == {1e-5}  # the reference builds nn.BatchNorm3d(c) with the default eps
    assert model.maxpool_2a.pad == (0, 1, 0, 1, 0, 0)  # TF 'SAME' as the reference computes it
    assert model.maxpool_4a.pad == (0, 1, 0, 1, 0, 1)
    assert model.maxpool_5a.pad == (0, 0, 0, 0, 0, 0)


def test_space_to_depth_stem_order_and_tf_same_crop():
    # The reference's fold: view(B, C, T/2, 2, H/2, 2, W/2, 2).permute(0, 3, 5, 7, 1, 2, 4, 6),
    # i.e. channel ((dt * 2 + dh) * 2 + dw) * C + c holds pixel (2t + dt, 2h + dh, 2w + dw).
    x = torch.arange(2 * 3 * 4 * 6 * 8, dtype=torch.float32).reshape(2, 3, 4, 6, 8)
    y = S3D._space_to_depth(x)
    assert y.shape == (2, 24, 2, 3, 4)
    for dt, dh, dw, c in [(0, 0, 0, 0), (1, 0, 1, 2), (0, 1, 1, 1), (1, 1, 1, 2)]:
        ch = ((dt * 2 + dh) * 2 + dw) * 3 + c
        assert torch.equal(y[:, ch], x[:, c, dt::2, dh::2, dw::2])
    # Stem: 24 -> 64, 2x4x4, pad (1, 2, 2) gives T/2 + 1, H/2 + 1, W/2 + 1; the first element of
    # each is cropped (TF 'SAME'); the pools then halve H, W, and at 4a and 5a also T.
    seen = {}
    model = S3D().eval()
    for name in ("maxpool_2a", "maxpool_4a", "mixed_5c"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: seen.update({name: (tuple(i[0].shape), tuple(o.shape))})
        )
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 112, 112))
    assert seen["maxpool_2a"] == ((1, 64, 16, 56, 56), (1, 64, 16, 28, 28))
    assert seen["maxpool_4a"] == ((1, 480, 16, 14, 14), (1, 480, 8, 7, 7))
    assert seen["mixed_5c"][1] == (1, 1024, 4, 4, 4)  # then a mean over T, H, W


# --- Loading -------------------------------------------------------------------------------


def _write_flat(path: Path, state: dict[str, torch.Tensor], full_text: bool = True) -> Path:
    text = {k: torch.zeros(s if full_text else (2,) * len(s)) for k, s in TEXT_SHAPES.items()}
    torch.save({**state, **text}, path)
    return path


@pytest.mark.parametrize("layout", ["flat", "training"])
def test_both_checkpoint_layouts_load(tmp_path, source, layout):
    if layout == "flat":  # s3d_howto100m.pth: flat, no 'module.', with the text branch
        path = _write_flat(tmp_path / "s3d_howto100m.pth", source)
    else:  # MIL-NCE main_distributed.py save_checkpoint: a DataParallel model's state_dict
        state = {**source, **{k: torch.zeros(2, 2) for k in TEXT_SHAPES}}
        ckpt = {
            "epoch": 3,
            "state_dict": {"module." + k: v for k, v in state.items()},
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.001, "params": [0, 1]}]},
            "scheduler": {"last_epoch": 7, "base_lrs": [0.001]},
        }
        path = tmp_path / "epoch0003.pth.tar"
        torch.save(ckpt, path)
    model, prov = build_s3d(str(path), output="mixed_5c")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert prov.backbone == "s3d" and prov.weights == str(path)
    assert prov.sha256 == _sha256(path) and prov.seed is None
    x = _clip(1)
    with torch.no_grad():
        expected = _reference_model(source)(x)
    assert torch.equal(model(x), expected)


def test_training_default_stem_without_space_to_depth_loads(tmp_path):
    # main_distributed.py builds S3D(space_to_depth=False): conv1 is 3 -> 64, 3x7x7, stride 2.
    state = _seeded_state(5, space_to_depth=False)
    assert state["conv1.conv1.weight"].shape == (64, 3, 3, 7, 7)
    path = tmp_path / "epoch0001.pth.tar"
    torch.save({"epoch": 1, "state_dict": {"module." + k: v for k, v in state.items()}}, path)
    model, _ = build_s3d(str(path))
    assert model.space_to_depth is False
    x = _clip(2, t=15)  # no space to depth: odd T is fine
    assert torch.equal(model(x), _reference_model(state)(x))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s.pop("mixed_4d.conv_b1_b.conv2.weight"), "mixed_4d.conv_b1_b.conv2.weight"),
        (lambda s: s.update({"classifier.weight": torch.zeros(3)}), "classifier.weight"),
        (lambda s: s.update({"fc.bias": torch.zeros(511)}), "fc.bias"),
    ],
    ids=["missing", "unexpected", "wrong-shape"],
)
def test_strict_keys(tmp_path, source, change, named):
    state = dict(source)
    change(state)
    path = _write_flat(tmp_path / "bad.pth", state, full_text=False)
    with pytest.raises(ValueError, match=named.replace(".", r"\.")) as e:
        build_s3d(str(path))
    assert "text_module" not in str(e.value)  # text keys are dropped by name, never reported


def test_missing_weights(tmp_path):
    with pytest.raises(WeightsNotFound, match="s3d_howto100m.pth") as e:
        build_s3d("howto100m")
    assert s3d.WEIGHTS_URL in str(e.value) and "path" in str(e.value)
    with pytest.raises(WeightsNotFound):
        build_s3d(str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError, match="output"):
        build_s3d("random", output="logits")


# --- Outputs -------------------------------------------------------------------------------


def test_output_dims_and_video_embedding_is_fc_of_mixed_5c(source):
    five_c = _reference_model(source, "mixed_5c")
    embed = _reference_model(source, "video_embedding")
    x = torch.cat([_clip(3, t=32), _clip(4, t=32)])
    with torch.no_grad():
        a, b = five_c(x), embed(x)
        assert a.shape == (2, OUTPUTS["mixed_5c"]) == (2, 1024)
        assert b.shape == (2, OUTPUTS["video_embedding"]) == (2, 512)
        assert torch.allclose(b, five_c.fc(a), atol=1e-6)
        both = five_c.features(x)
    assert torch.equal(both["mixed_5c"], a)
    assert not torch.allclose(a[0], a[1])  # a batch of two videos, two features
    with pytest.raises(ValueError, match="even"):
        five_c(torch.rand(1, 3, 15, 112, 112))


def test_full_size_shapes(source):
    model = _reference_model(source)
    with torch.no_grad():
        for t in (32, 30):  # the 16-fps and the 30-fps recipe's windows, at 224 x 224
            out = model(_clip(5, t=t, size=224))
            assert out.shape == (1, 1024) and torch.isfinite(out).all()


# --- Random weights ------------------------------------------------------------------------


def test_random_weights_warn_and_are_seeded(capsys):
    before = torch.random.get_rng_state()
    a, prov = build_s3d("random", seed=0)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    assert "RANDOM" in capsys.readouterr().err
    assert prov.weights == "random" and prov.seed == 0 and prov.backbone == "s3d"
    b, _ = build_s3d("random", seed=0)
    c, _ = build_s3d("random", seed=1)
    x = torch.cat([_clip(6), _clip(7)])
    with torch.no_grad():
        ya, yb, yc = a(x), b(x), c(x)
    assert torch.equal(ya, yb)
    assert not torch.allclose(ya, yc)
    assert torch.isfinite(ya).all() and ya.abs().mean() > 1e-2  # no vanishing through the depth
    assert (ya[0] - ya[1]).abs().mean() > 1e-2 * ya.abs().mean()  # inputs still tell apart


# --- Windows -------------------------------------------------------------------------------


def _video(t: int, h: int = 4, w: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def _run(recipe: str, frames: np.ndarray, chunk: int | None) -> torch.Tensor:
    win = Windows(RECIPES[recipe])
    r = RECIPES[recipe]
    parts = []
    step = chunk or max(len(frames), 1)
    for i in range(0, len(frames), step):
        parts.append(win.push(frames[i : i + step]))
        held = 0 if win._buf is None else len(win._buf)
        assert held <= r.window + r.stride  # bounded memory: never the whole video
    parts.append(win.finish())
    parts = [p for p in parts if p.numel()]
    if not parts:
        return torch.empty(0, 3, r.window, *frames.shape[1:3])
    return torch.cat(parts)


def _naive(recipe: str, frames: np.ndarray) -> np.ndarray:
    """Window k = frames [k*stride - lead, ... + window), from the whole video at once."""
    r = RECIPES[recipe]
    out = []
    for k in range(math.ceil(len(frames) / r.stride)):
        idx = np.arange(r.window) + k * r.stride - r.lead
        if r.pad == "edge":
            win = frames[np.clip(idx, 0, len(frames) - 1)]
        else:
            win = np.zeros((r.window, *frames.shape[1:]), np.uint8)
            ok = (idx >= 0) & (idx < len(frames))
            win[ok] = frames[idx[ok]]
        out.append(win)
    return np.stack(out) if out else np.zeros((0, r.window, *frames.shape[1:]), np.uint8)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_window_counts_and_chunking_invariance(recipe):
    r = RECIPES[recipe]
    for t in (0, 1, 15, 16, 17, 33, 160):
        frames = _video(t, seed=t)
        expected = torch.from_numpy(_naive(recipe, frames)).permute(0, 4, 1, 2, 3).float() / 255
        one = _run(recipe, frames, None)
        assert one.shape == (math.ceil(t / r.stride), 3, r.window, 4, 6), (recipe, t)
        assert one.dtype == torch.float32
        assert torch.equal(one, expected), (recipe, t)
        for chunk in (1, 7, 64):
            assert torch.equal(_run(recipe, frames, chunk), one), (recipe, t, chunk)


def test_recipe_padding_and_range():
    assert s3d.DEFAULT_RECIPE == "16fps_32x16"
    r16, r30 = RECIPES["16fps_32x16"], RECIPES["30fps_30"]
    assert (r16.fps, r16.window, r16.stride, r16.lead, r16.pad) == (16.0, 32, 16, 8, "edge")
    assert (r30.fps, r30.window, r30.stride, r30.lead, r30.pad) == (30.0, 30, 30, 0, "zeros")
    frames = _video(40, seed=3)
    first = frames[0].astype(np.float32) / 255
    out = _run("16fps_32x16", frames, 7)
    assert out.shape[0] == 3
    x0 = out[0].permute(1, 2, 3, 0).numpy()  # (window, H, W, 3)
    assert all(np.array_equal(x0[i], first) for i in range(9))  # 8 edge copies, then frame 0
    assert np.array_equal(x0[9], frames[1] / np.float32(255))
    last = out[-1].permute(1, 2, 3, 0).numpy()  # frames [24, 56): 40..55 repeat frame 39
    assert all(np.array_equal(last[i], frames[39] / np.float32(255)) for i in range(15, 32))
    out30 = _run("30fps_30", frames, 64)
    assert out30.shape == (2, 3, 30, 4, 6)
    assert torch.equal(out30[1, :, 10:], torch.zeros(3, 20, 4, 6))  # frames 40..59: zeros
    assert torch.equal(out30[1, :, :10].permute(1, 2, 3, 0), torch.from_numpy(frames[30:]) / 255)
    for x in (out, out30):
        assert x.min() >= 0 and x.max() <= 1
    bright = _run("30fps_30", np.full((2, 2, 2, 3), 255, np.uint8), None)
    assert bright[0, :, :2].min() == 1.0


def test_windows_reject_bad_frames():
    win = Windows(RECIPES["30fps_30"])
    with pytest.raises(ValueError, match="uint8"):
        win.push(np.zeros((2, 4, 4, 3), np.float32))
    win.push(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="size"):
        win.push(np.zeros((2, 4, 5, 3), np.uint8))
    assert win.finish().shape == (1, 3, 30, 4, 4)
    with pytest.raises(RuntimeError):
        win.push(np.zeros((1, 4, 4, 3), np.uint8))
    assert Windows(RECIPES["16fps_32x16"]).finish().shape[:3] == (0, 3, 32)
