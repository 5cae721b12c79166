"""The EAO model (eao.model): official layout, masking semantics, variants, and the packed fast
path against the plain six-pass reference implementation in bench/reference_model.py."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from eao.model import EverythingAtOnce, GatedEmbeddingUnit, ModelConfig

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reference_model", REPO / "bench/reference_model.py")
reference_model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_model)

SMALL = ModelConfig(
    video_dim=24,
    text_dim=30,
    width=64,
    heads=4,
    proj_dim=48,
    audio_channels=(8, 8, 16, 16, 32, 32, 64),
)
FRAMES = 256  # 4 audio tokens of 64 frames
VARIANTS = {
    "default": {},
    "depth2": {"depth": 2},
    "cls": {"pooling": "cls"},
    "shared_proj": {"individual_projections": False},
    "learned_pos": {"positional": "learned", "max_tokens": (7, 5, 4)},
    "rope": {"positional": "rope"},
    "no_fusion": {"fusion": "none"},
    "per_modality": {"fusion": "per_modality"},
    "no_cross": {"cross_modal": False},
    "wide_mlp": {"mlp_ratio": 2.0, "heads": 8},
}

# spec Appendix A: state_dict of the main (tva) model, in registration order
SPEC_APPENDIX_A = """
fusion.masking_token (4096,) float32
fusion.blocks.0.norm1.weight (4096,) float32
fusion.blocks.0.norm1.bias (4096,) float32
fusion.blocks.0.attn.qkv.weight (12288, 4096) float32
fusion.blocks.0.attn.qkv.bias (12288,) float32
fusion.blocks.0.attn.proj.weight (4096, 4096) float32
fusion.blocks.0.attn.proj.bias (4096,) float32
fusion.blocks.0.norm2.weight (4096,) float32
fusion.blocks.0.norm2.bias (4096,) float32
fusion.blocks.0.mlp.fc1.weight (4096, 4096) float32
fusion.blocks.0.mlp.fc1.bias (4096,) float32
fusion.blocks.0.mlp.fc2.weight (4096, 4096) float32
fusion.blocks.0.mlp.fc2.bias (4096,) float32
fusion.norm.weight (4096,) float32
fusion.norm.bias (4096,) float32
video_norm_layer.weight (4096,) float32
video_norm_layer.bias (4096,) float32
text_norm_layer.weight (4096,) float32
text_norm_layer.bias (4096,) float32
audio_norm_layer.weight (4096,) float32
audio_norm_layer.bias (4096,) float32
davenet.batchnorm1.weight (1,) float32
davenet.batchnorm1.bias (1,) float32
davenet.batchnorm1.running_mean (1,) float32
davenet.batchnorm1.running_var (1,) float32
davenet.batchnorm1.num_batches_tracked () int64
davenet.conv1.weight (128, 1, 40, 1) float32
davenet.bn1.weight (128,) float32
davenet.bn1.bias (128,) float32
davenet.bn1.running_mean (128,) float32
davenet.bn1.running_var (128,) float32
davenet.bn1.num_batches_tracked () int64
davenet.layer1.0.conv1.weight (128, 128, 1, 9) float32
davenet.layer1.0.bn1.weight (128,) float32
davenet.layer1.0.bn1.bias (128,) float32
davenet.layer1.0.bn1.running_mean (128,) float32
davenet.layer1.0.bn1.running_var (128,) float32
davenet.layer1.0.bn1.num_batches_tracked () int64
davenet.layer1.0.conv2.weight (128, 128, 1, 9) float32
davenet.layer1.0.bn2.weight (128,) float32
davenet.layer1.0.bn2.bias (128,) float32
davenet.layer1.0.bn2.running_mean (128,) float32
davenet.layer1.0.bn2.running_var (128,) float32
davenet.layer1.0.bn2.num_batches_tracked () int64
davenet.layer1.0.downsample.0.weight (128, 128, 1, 1) float32
davenet.layer1.0.downsample.1.weight (128,) float32
davenet.layer1.0.downsample.1.bias (128,) float32
davenet.layer1.0.downsample.1.running_mean (128,) float32
davenet.layer1.0.downsample.1.running_var (128,) float32
davenet.layer1.0.downsample.1.num_batches_tracked () int64
davenet.layer1.1.conv1.weight (128, 128, 1, 9) float32
davenet.layer1.1.bn1.weight (128,) float32
davenet.layer1.1.bn1.bias (128,) float32
davenet.layer1.1.bn1.running_mean (128,) float32
davenet.layer1.1.bn1.running_var (128,) float32
davenet.layer1.1.bn1.num_batches_tracked () int64
davenet.layer1.1.conv2.weight (128, 128, 1, 9) float32
davenet.layer1.1.bn2.weight (128,) float32
davenet.layer1.1.bn2.bias (128,) float32
davenet.layer1.1.bn2.running_mean (128,) float32
davenet.layer1.1.bn2.running_var (128,) float32
davenet.layer1.1.bn2.num_batches_tracked () int64
davenet.layer2.0.conv1.weight (256, 128, 1, 9) float32
davenet.layer2.0.bn1.weight (256,) float32
davenet.layer2.0.bn1.bias (256,) float32
davenet.layer2.0.bn1.running_mean (256,) float32
davenet.layer2.0.bn1.running_var (256,) float32
davenet.layer2.0.bn1.num_batches_tracked () int64
davenet.layer2.0.conv2.weight (256, 256, 1, 9) float32
davenet.layer2.0.bn2.weight (256,) float32
davenet.layer2.0.bn2.bias (256,) float32
davenet.layer2.0.bn2.running_mean (256,) float32
davenet.layer2.0.bn2.running_var (256,) float32
davenet.layer2.0.bn2.num_batches_tracked () int64
davenet.layer2.0.downsample.0.weight (256, 128, 1, 1) float32
davenet.layer2.0.downsample.1.weight (256,) float32
davenet.layer2.0.downsample.1.bias (256,) float32
davenet.layer2.0.downsample.1.running_mean (256,) float32
davenet.layer2.0.downsample.1.running_var (256,) float32
davenet.layer2.0.downsample.1.num_batches_tracked () int64
davenet.layer2.1.conv1.weight (256, 256, 1, 9) float32
davenet.layer2.1.bn1.weight (256,) float32
davenet.layer2.1.bn1.bias (256,) float32
davenet.layer2.1.bn1.running_mean (256,) float32
davenet.layer2.1.bn1.running_var (256,) float32
davenet.layer2.1.bn1.num_batches_tracked () int64
davenet.layer2.1.conv2.weight (256, 256, 1, 9) float32
davenet.layer2.1.bn2.weight (256,) float32
davenet.layer2.1.bn2.bias (256,) float32
davenet.layer2.1.bn2.running_mean (256,) float32
davenet.layer2.1.bn2.running_var (256,) float32
davenet.layer2.1.bn2.num_batches_tracked () int64
davenet.layer3.0.conv1.weight (512, 256, 1, 9) float32
davenet.layer3.0.bn1.weight (512,) float32
davenet.layer3.0.bn1.bias (512,) float32
davenet.layer3.0.bn1.running_mean (512,) float32
davenet.layer3.0.bn1.running_var (512,) float32
davenet.layer3.0.bn1.num_batches_tracked () int64
davenet.layer3.0.conv2.weight (512, 512, 1, 9) float32
davenet.layer3.0.bn2.weight (512,) float32
davenet.layer3.0.bn2.bias (512,) float32
davenet.layer3.0.bn2.running_mean (512,) float32
davenet.layer3.0.bn2.running_var (512,) float32
davenet.layer3.0.bn2.num_batches_tracked () int64
davenet.layer3.0.downsample.0.weight (512, 256, 1, 1) float32
davenet.layer3.0.downsample.1.weight (512,) float32
davenet.layer3.0.downsample.1.bias (512,) float32
davenet.layer3.0.downsample.1.running_mean (512,) float32
davenet.layer3.0.downsample.1.running_var (512,) float32
davenet.layer3.0.downsample.1.num_batches_tracked () int64
davenet.layer4.0.conv1.weight (1024, 512, 1, 9) float32
davenet.layer4.0.bn1.weight (1024,) float32
davenet.layer4.0.bn1.bias (1024,) float32
davenet.layer4.0.bn1.running_mean (1024,) float32
davenet.layer4.0.bn1.running_var (1024,) float32
davenet.layer4.0.bn1.num_batches_tracked () int64
davenet.layer4.0.conv2.weight (1024, 1024, 1, 9) float32
davenet.layer4.0.bn2.weight (1024,) float32
davenet.layer4.0.bn2.bias (1024,) float32
davenet.layer4.0.bn2.running_mean (1024,) float32
davenet.layer4.0.bn2.running_var (1024,) float32
davenet.layer4.0.bn2.num_batches_tracked () int64
davenet.layer4.0.downsample.0.weight (1024, 512, 1, 1) float32
davenet.layer4.0.downsample.1.weight (1024,) float32
davenet.layer4.0.downsample.1.bias (1024,) float32
davenet.layer4.0.downsample.1.running_mean (1024,) float32
davenet.layer4.0.downsample.1.running_var (1024,) float32
davenet.layer4.0.downsample.1.num_batches_tracked () int64
davenet.layer5.0.conv1.weight (2048, 1024, 1, 9) float32
davenet.layer5.0.bn1.weight (2048,) float32
davenet.layer5.0.bn1.bias (2048,) float32
davenet.layer5.0.bn1.running_mean (2048,) float32
davenet.layer5.0.bn1.running_var (2048,) float32
davenet.layer5.0.bn1.num_batches_tracked () int64
davenet.layer5.0.conv2.weight (2048, 2048, 1, 9) float32
davenet.layer5.0.bn2.weight (2048,) float32
davenet.layer5.0.bn2.bias (2048,) float32
davenet.layer5.0.bn2.running_mean (2048,) float32
davenet.layer5.0.bn2.running_var (2048,) float32
davenet.layer5.0.bn2.num_batches_tracked () int64
davenet.layer5.0.downsample.0.weight (2048, 1024, 1, 1) float32
davenet.layer5.0.downsample.1.weight (2048,) float32
davenet.layer5.0.downsample.1.bias (2048,) float32
davenet.layer5.0.downsample.1.running_mean (2048,) float32
davenet.layer5.0.downsample.1.running_var (2048,) float32
davenet.layer5.0.downsample.1.num_batches_tracked () int64
davenet.layer6.0.conv1.weight (4096, 2048, 1, 9) float32
davenet.layer6.0.bn1.weight (4096,) float32
davenet.layer6.0.bn1.bias (4096,) float32
davenet.layer6.0.bn1.running_mean (4096,) float32
davenet.layer6.0.bn1.running_var (4096,) float32
davenet.layer6.0.bn1.num_batches_tracked () int64
davenet.layer6.0.conv2.weight (4096, 4096, 1, 9) float32
davenet.layer6.0.bn2.weight (4096,) float32
davenet.layer6.0.bn2.bias (4096,) float32
davenet.layer6.0.bn2.running_mean (4096,) float32
davenet.layer6.0.bn2.running_var (4096,) float32
davenet.layer6.0.bn2.num_batches_tracked () int64
davenet.layer6.0.downsample.0.weight (4096, 2048, 1, 1) float32
davenet.layer6.0.downsample.1.weight (4096,) float32
davenet.layer6.0.downsample.1.bias (4096,) float32
davenet.layer6.0.downsample.1.running_mean (4096,) float32
davenet.layer6.0.downsample.1.running_var (4096,) float32
davenet.layer6.0.downsample.1.num_batches_tracked () int64
video_token_proj.fc.weight (4096, 4096) float32
video_token_proj.fc.bias (4096,) float32
video_token_proj.cg.fc.weight (4096, 4096) float32
video_token_proj.cg.fc.bias (4096,) float32
text_token_proj.fc.weight (4096, 300) float32
text_token_proj.fc.bias (4096,) float32
text_token_proj.cg.fc.weight (4096, 4096) float32
text_token_proj.cg.fc.bias (4096,) float32
audio_token_proj.fc.weight (4096, 4096) float32
audio_token_proj.fc.bias (4096,) float32
audio_token_proj.cg.fc.weight (4096, 4096) float32
audio_token_proj.cg.fc.bias (4096,) float32
video_proj.fc.weight (6144, 4096) float32
video_proj.fc.bias (6144,) float32
video_proj.cg.fc.weight (6144, 6144) float32
video_proj.cg.fc.bias (6144,) float32
text_proj.fc.weight (6144, 4096) float32
text_proj.fc.bias (6144,) float32
text_proj.cg.fc.weight (6144, 6144) float32
text_proj.cg.fc.bias (6144,) float32
audio_proj.fc.weight (6144, 4096) float32
audio_proj.fc.bias (6144,) float32
audio_proj.cg.fc.weight (6144, 6144) float32
audio_proj.cg.fc.bias (6144,) float32
"""


def make_batch(b: int = 4, n_text: int = 7, n_video: int = 5, frames: int = FRAMES, seed: int = 0):
    """Random batch with padding, an empty text (sample 1) and an empty video (sample 2)."""
    g = torch.Generator().manual_seed(seed)
    batch = {
        "text": torch.randn(b, n_text, SMALL.text_dim, generator=g),
        "text_mask": torch.ones(b, n_text),
        "video": torch.randn(b, n_video, SMALL.video_dim, generator=g),
        "video_mask": torch.ones(b, n_video),
        "audio": torch.randn(b, SMALL.n_mels, frames, generator=g) * 20 - 40,
        "audio_mask": torch.ones(b, frames),
    }
    batch["text_mask"][0, 3:] = 0
    batch["text_mask"][1] = 0
    batch["video_mask"][0, 2:] = 0
    batch["video_mask"][2] = 0
    batch["audio_mask"][3, frames // 2 + 10 :] = 0
    return batch


def build(seed: int = 0, **overrides) -> EverythingAtOnce:
    torch.manual_seed(seed)
    return EverythingAtOnce(dataclasses.replace(SMALL, **overrides))


def clone(batch: dict) -> dict:
    return {k: v.clone() for k, v in batch.items()}


def test_gated_unit_is_fc_times_sigmoid_gate():
    torch.manual_seed(0)
    geu = GatedEmbeddingUnit(10, 6)
    for x in (torch.randn(3, 10), torch.randn(3, 5, 10)):
        y = x @ geu.fc.weight.T + geu.fc.bias
        want = y * torch.sigmoid(y @ geu.cg.fc.weight.T + geu.cg.fc.bias)
        torch.testing.assert_close(geu(x), want, atol=1e-6, rtol=0)
        # the official form: GLU over the concatenation along dim 1
        official = F.glu(torch.cat([y, geu.cg.fc(y)], 1), 1)
        torch.testing.assert_close(geu(x), official, atol=1e-6, rtol=0)


def test_default_state_dict_is_spec_appendix_a():
    with torch.device("meta"):
        model = EverythingAtOnce(ModelConfig())
    got = [
        f"{k} {tuple(v.shape)} {str(v.dtype).removeprefix('torch.')}"
        for k, v in model.state_dict().items()
    ]
    assert got == SPEC_APPENDIX_A.strip().splitlines()
    assert sum(p.numel() for p in model.parameters()) == 689_371_138  # spec 1.2


@pytest.mark.parametrize(
    "subset", [s for r in (1, 2, 3) for s in itertools.combinations(("text", "video", "audio"), r)]
)
def test_any_subset_and_any_length(subset):
    model = build().eval()
    short = make_batch(n_text=2, n_video=1, frames=64)
    long = make_batch(n_text=19, n_video=13, frames=640)
    abbrev = {"text": "t", "video": "v", "audio": "a"}
    for batch in (short, long):
        keep = {k: v for k, v in batch.items() if k.split("_")[0] in subset}
        out = model(keep, force_cross_modal=True)
        pairs = list(itertools.combinations(subset, 2))
        want = {f"{m}_embed" for m in subset} | {f"{m}_nonempty_input_mask" for m in subset}
        want |= {f"{abbrev[a]}{abbrev[b]}_embed" for a, b in pairs}
        want |= {f"{abbrev[a]}+{abbrev[b]}_embed" for a, b in pairs}
        assert set(out) == want
        for k, v in out.items():
            if k.endswith("_embed"):
                assert v.shape == (4, SMALL.proj_dim) and torch.isfinite(v).all(), k


def test_empty_modality_uses_masking_token_and_leaves_other_samples_alone():
    model = build().eval()
    batch = make_batch()
    masks = {k: v.clone() for k, v in batch.items() if k.endswith("_mask")}
    with torch.no_grad():
        before = model(batch, force_cross_modal=True)
        emptied = clone(batch)
        emptied["text_mask"][3] = 0  # sample 3 loses its text
        after = model(emptied, force_cross_modal=True)
        emptied["text"][3] = torch.randn_like(emptied["text"][3])  # content no longer matters
        again = model(emptied, force_cross_modal=True)
    for k in masks:  # the caller's masks are not mutated
        assert torch.equal(batch[k], masks[k]), k
    assert before["text_nonempty_input_mask"].tolist() == [True, False, True, True]
    assert after["text_nonempty_input_mask"].tolist() == [True, False, True, False]
    assert after["video_nonempty_input_mask"].tolist() == [True, True, False, True]
    for k, v in before.items():
        if k.endswith("_embed"):
            torch.testing.assert_close(after[k][:3], v[:3], atol=1e-6, rtol=0)
            torch.testing.assert_close(again[k], after[k], atol=1e-6, rtol=0)
    # both empty texts (samples 1 and 3) are the same masking token
    torch.testing.assert_close(after["text_embed"][1], after["text_embed"][3], atol=1e-6, rtol=0)
    assert not torch.allclose(after["text_embed"][3], before["text_embed"][3], atol=1e-3)


def test_padding_values_and_extra_padding_do_not_change_outputs():
    model = build(depth=2).eval()
    batch = make_batch()
    noisy = clone(batch)
    for m in ("text", "video"):
        pad = noisy[f"{m}_mask"] == 0
        noisy[m][pad] = torch.randn_like(noisy[m][pad]) * 100
    longer = clone(batch)
    for m in ("text", "video"):
        x, mask = longer[m], longer[f"{m}_mask"]
        longer[m] = torch.cat([x, torch.randn(x.shape[0], 3, x.shape[2])], 1)
        longer[f"{m}_mask"] = torch.cat([mask, torch.zeros(mask.shape[0], 3)], 1)
    with torch.no_grad():
        ref = model(batch, force_cross_modal=True)
        for other in (noisy, longer):
            out = model(other, force_cross_modal=True)
            for k, v in ref.items():
                torch.testing.assert_close(out[k], v, atol=1e-5, rtol=0)


def test_audio_mask_is_max_pooled_per_token_and_length_checked():
    model = build().eval()
    batch = make_batch()
    batch["audio_mask"][0] = 0
    batch["audio_mask"][0, 64:65] = 1  # one frame of token 1
    batch["audio_mask"][1] = 0
    with torch.no_grad():
        tokens = model.tokens(batch)
    valid = tokens["audio"][1]
    assert valid[0].tolist() == [False, True, False, False]
    assert valid[1].tolist() == [True, False, False, False]  # empty: masking token at 0
    assert tokens["audio"][2].tolist() == [True, False, True, True]
    bad = make_batch(frames=FRAMES + 32)
    with pytest.raises(ValueError, match="multiple of 64"):
        model(bad)


def test_token_order_matters_only_with_rope():
    batch = make_batch()
    perm = clone(batch)
    perm["text"][0, :3] = batch["text"][0, [2, 0, 1]]  # shuffle sample 0's valid words
    for positional, same in (("none", True), ("rope", False)):
        model = build(positional=positional).eval()
        with torch.no_grad():
            a, b = model(batch)["text_embed"][0], model(perm)["text_embed"][0]
        assert torch.allclose(a, b, atol=1e-5) == same, positional


def _loss(out: dict) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return sum(
        (v * torch.randn(v.shape, generator=g)).sum()
        for k, v in sorted(out.items())
        if k.endswith("_embed")
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("force", [False, True])
def test_fast_path_matches_reference(variant, force):
    """Same weights, same batch, train mode (BatchNorm batch statistics): embeddings and every
    parameter gradient of the packed multi-pass model equal the plain six-pass reference."""
    fast = build(**VARIANTS[variant]).train()
    ref = reference_model.ReferenceModel(fast.cfg).train()
    ref.load_state_dict(fast.state_dict())
    batch = make_batch(n_text=7, n_video=5)
    out_f, out_r = fast(clone(batch), force_cross_modal=force), ref(clone(batch), force)
    assert set(out_f) == set(out_r)
    for k in out_r:
        if k.endswith("_embed"):
            torch.testing.assert_close(out_f[k], out_r[k], atol=1e-5, rtol=0, msg=k)
        else:
            assert torch.equal(out_f[k], out_r[k]), k
    _loss(out_f).backward()
    _loss(out_r).backward()
    ref_params = dict(ref.named_parameters())
    for name, p in fast.named_parameters():
        q = ref_params[name]
        if q.grad is None:
            assert p.grad is None or not p.grad.any(), name
            continue
        scale = max(q.grad.abs().max().item(), 1e-6)  # fp32 reassociation, relative to max
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5 * scale, rtol=0, msg=name)


def test_fast_path_matches_reference_in_eval_mode():
    fast = build(seed=1, depth=2).eval()
    ref = reference_model.ReferenceModel(fast.cfg).eval()
    ref.load_state_dict(fast.state_dict())
    batch = make_batch(seed=3)
    with torch.no_grad():
        out_f, out_r = fast(batch, force_cross_modal=True), ref(batch, True)
    for k, v in out_r.items():
        torch.testing.assert_close(out_f[k].float(), v.float(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_builds_runs_and_trains(variant):
    model = build(**VARIANTS[variant]).train()
    out = model(make_batch())
    _loss(out).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    keys = set(model.state_dict())
    cfg = model.cfg
    has_pairs = cfg.cross_modal and cfg.fusion != "per_modality"
    assert ("tv_embed" in out) == has_pairs
    assert ("tv_embed" in model(make_batch(), force_cross_modal=True)) == (
        cfg.fusion != "per_modality"
    )
    assert ("fusion.cls_token" in keys) == (cfg.pooling == "cls")
    assert ("proj.fc.weight" in keys) == (not cfg.individual_projections)
    assert ("video_pos_embed" in keys) == (cfg.positional == "learned")
    assert any(k.startswith("fusion.blocks.") for k in keys) == (cfg.fusion != "none")


def test_variant_key_counts_match_the_official_variants():
    counts = {"no_fusion": 176, "default": 188, "depth2": 200, "per_modality": 218}
    for variant, n in counts.items():
        with torch.device("meta"):
            model = EverythingAtOnce(dataclasses.replace(ModelConfig(), **VARIANTS[variant]))
        assert len(model.state_dict()) == n, variant
    with torch.device("meta"):
        cls = EverythingAtOnce(ModelConfig(pooling="cls"))
    assert not cls.cfg.individual_projections
    assert cls.fusion.cls_token.shape == (1, 1, 4096)
    assert cls.proj.cg.fc.weight.shape == (6144, 6144)


def test_config_round_trips_through_asdict_with_lists():
    cfg = dataclasses.replace(SMALL, positional="learned", max_tokens=(7, 5, 4))
    d = dataclasses.asdict(cfg)
    as_lists = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
    assert ModelConfig(**as_lists) == cfg
    with pytest.raises(ValueError, match="fusion"):
        ModelConfig(fusion="late")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(width=100, heads=64)


def test_init_follows_spec():
    model = build()
    fusion = model.fusion
    qkv = fusion.blocks[0].attn.qkv
    assert qkv.bias.abs().max() == 0 and 0.015 < qkv.weight.std() < 0.025
    assert fusion.masking_token.abs().max() <= 2 * 0.02 * 5
    assert torch.equal(fusion.blocks[0].norm1.weight, torch.ones(SMALL.width))
    conv = model.davenet.layer1[0].conv1  # N(0, sqrt(2 / (1 * 9 * 8)))
    assert abs(conv.weight.std().item() - (2 / 72) ** 0.5) < 0.03
    assert torch.equal(model.davenet.bn1.weight, torch.ones(8))
    bound = 1 / SMALL.video_dim**0.5  # PyTorch default init elsewhere
    assert model.video_token_proj.fc.bias.abs().max() <= bound


def test_sync_batchnorm_converts_davenet_only():
    model = build(sync_batchnorm=True).eval()
    bns = [
        m for m in model.davenet.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)
    ]
    assert bns and all(isinstance(m, torch.nn.SyncBatchNorm) for m in bns)
    assert list(model.state_dict()) == list(build().state_dict())
    with torch.no_grad():
        model(make_batch())  # eval mode needs no process group


@pytest.mark.parametrize("variant", ["default", "rope", "cls"])
def test_bf16_autocast_runs_and_stays_close(variant):
    model = build(**VARIANTS[variant]).train()
    batch = make_batch()
    want = model(clone(batch), force_cross_modal=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = model(clone(batch), force_cross_modal=True)
    _loss(got).backward()
    for k, v in want.items():
        if k.endswith("_embed"):
            assert F.cosine_similarity(got[k].float(), v, dim=-1).min() > 0.99, k


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_trainable_parameter_gets_a_gradient(variant):
    """DDP without find_unused_parameters needs this; the official dead modules are frozen."""
    model = build(**VARIANTS[variant]).train()
    full = make_batch()
    full["text_mask"][1, 0] = 1
    full["video_mask"][2, 0] = 1  # no empty modality: the masking token must still be in the graph
    _loss(model(full)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert {"fusion.norm.weight", "davenet.batchnorm1.bias"} <= frozen
