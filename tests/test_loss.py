"""The combinatorial NCE loss against hand-written references (spec model.md section 4)."""

import math

import pytest
import torch

from eao.train.loss import PAPER_WEIGHTS, combinatorial_loss, cosine_matrix, nce, weighted_total


def loop_nce(a: torch.Tensor, b: torch.Tensor, tau: float) -> float:
    """NCE written out with Python loops over rows and columns."""
    n = a.shape[0]
    an = [a[i] / a[i].norm() for i in range(n)]
    bn = [b[j] / b[j].norm() for j in range(n)]
    s = [[float(an[i] @ bn[j]) / tau for j in range(n)] for i in range(n)]
    a2b = sum(s[i][i] - math.log(sum(math.exp(x) for x in s[i])) for i in range(n)) / n
    b2a = sum(s[i][i] - math.log(sum(math.exp(s[k][i]) for k in range(n))) for i in range(n)) / n
    return -a2b - b2a


def outputs(n: int = 6, d: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {
        f"{k}_embed": torch.randn(n, d, generator=g)
        for k in ("text", "video", "audio", "tv", "ta", "va")
    }
    for m in ("text", "video", "audio"):
        out[f"{m}_nonempty_input_mask"] = torch.ones(n, dtype=torch.bool)
    return out


def test_nce_matches_loops():
    out = outputs()
    got = nce(cosine_matrix(out["text_embed"], out["video_embed"]), 0.05)
    assert got.item() == pytest.approx(
        loop_nce(out["text_embed"], out["video_embed"], 0.05), rel=1e-5
    )


def test_nce_is_both_directions_summed():
    # Perfectly separated matches: each direction ~0; a uniform matrix gives 2·log(n).
    n = 5
    assert nce(torch.zeros(n, n), 0.05).item() == pytest.approx(2 * math.log(n), rel=1e-6)
    assert nce(torch.eye(n), 0.05).item() < 1e-6


def test_weighted_total_reproduces_the_reference_number():
    # spec 4: parts (1.3214, 2.2033, 2.1854, 1.2984, 1.2907, 1.3919), paper weights -> 1.43891
    values = dict(zip(PAPER_WEIGHTS, (1.3214, 2.2033, 2.1854, 1.2984, 1.2907, 1.3919), strict=True))
    parts = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    assert weighted_total(parts, PAPER_WEIGHTS).item() == pytest.approx(1.43891, abs=1e-5)


def test_total_is_weighted_mean_of_parts():
    total, parts = combinatorial_loss(outputs(), PAPER_WEIGHTS)
    assert set(parts) == set(PAPER_WEIGHTS)
    expected = sum(PAPER_WEIGHTS[k] * v for k, v in parts.items()) / sum(PAPER_WEIGHTS.values())
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)


def test_empty_modality_rows_leave_only_their_pairs():
    out = outputs()
    out["audio_nonempty_input_mask"][2] = False
    _, parts = combinatorial_loss(out, PAPER_WEIGHTS)
    keep = torch.arange(6) != 2
    # tv keeps every row; pairs involving audio drop row 2.
    assert parts["tv"].item() == pytest.approx(
        loop_nce(out["text_embed"], out["video_embed"], 0.05), rel=1e-5
    )
    want_ta = loop_nce(out["text_embed"][keep], out["audio_embed"][keep], 0.05)
    assert parts["ta"].item() == pytest.approx(want_ta, rel=1e-5)
    want_a_tv = loop_nce(out["audio_embed"][keep], out["tv_embed"][keep], 0.05)
    assert parts["a_tv"].item() == pytest.approx(want_a_tv, rel=1e-5)


def test_missing_embeddings_and_zero_weights_are_left_out_of_the_denominator():
    out = outputs()
    for key in ("tv_embed", "ta_embed", "va_embed"):
        del out[key]  # a model trained without fused terms
    weights = {**PAPER_WEIGHTS, "va": 0.0}
    total, parts = combinatorial_loss(out, weights)
    assert set(parts) == {"tv", "ta"}
    assert total.item() == pytest.approx((parts["tv"] + 0.1 * parts["ta"]).item() / 1.1, rel=1e-6)


def test_nothing_to_compute_is_an_error():
    out = outputs()
    out["text_nonempty_input_mask"][:] = False
    with pytest.raises(ValueError, match="no loss term"):
        combinatorial_loss(out, {"tv": 1.0, "ta": 1.0})


def test_gradient_flows_to_every_embedding_in_the_loss():
    out = {k: v.requires_grad_() if v.is_floating_point() else v for k, v in outputs().items()}
    total, _ = combinatorial_loss(out, PAPER_WEIGHTS)
    total.backward()
    for key in ("text_embed", "video_embed", "audio_embed", "tv_embed", "ta_embed", "va_embed"):
        assert out[key].grad is not None and out[key].grad.abs().sum() > 0
