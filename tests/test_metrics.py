"""Retrieval metrics (spec model.md 6.3, 10 item 9), similarity tasks and batched embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from eao.evaluate.embed import embed_batches
from eao.evaluate.metrics import (
    METRIC_TASKS,
    chance_metrics,
    cosine_similarity,
    diagonal_ranks,
    metrics_for_tasks,
    retrieval_metrics,
    reverse_task,
    similarity_tasks,
)

# Spec 10 item 9: ranks 0.5 (tie for first), 1, 0, 1.5 (four-way tie).
SPEC_MATRIX = np.array(
    [[0.9, 0.1, 0.9, 0.2], [0.5, 0.4, 0.3, 0.2], [0.1, 0.2, 0.3, 0.0], [0.4, 0.4, 0.4, 0.4]],
    dtype=np.float32,
)


def test_spec_example_exact():
    assert diagonal_ranks(SPEC_MATRIX).tolist() == [0.5, 1.0, 0.0, 1.5]
    m = retrieval_metrics(SPEC_MATRIX)
    assert (m["R1"], m["R5"], m["R10"], m["R50"]) == (25.0, 100.0, 100.0, 100.0)
    assert m["MedR"] == 1.75 and m["MeanR"] == 1.75
    assert m["geometric_mean_R1-R5-R10"] == pytest.approx((25.0 * 100 * 100) ** (1 / 3))


def test_spec_example_complete_size():
    m = retrieval_metrics(SPEC_MATRIX, complete_size=5)
    assert (m["R1"], m["R5"], m["R10"]) == (20.0, 80.0, 80.0)
    assert m["MedR"] == 1.75 and m["MeanR"] == 1.75  # over the 4 evaluated rows only


def test_benchmarks_worked_example():
    # benchmarks.md 1.2: gt tied with one other at top; 3-way tie at top; strictly top; last.
    sim = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0]], dtype=np.float32)
    assert diagonal_ranks(sim).tolist() == [0.5, 1.0, 0.0, 3.0]
    m = retrieval_metrics(sim)
    assert (m["R1"], m["R5"], m["MedR"], m["MeanR"]) == (25.0, 100.0, 1.75, 2.125)


def test_zero_recall_gives_zero_geometric_mean():
    sim = np.array([[0.0, 1.0], [1.0, 0.0]])
    m = retrieval_metrics(sim)
    assert m["R1"] == 0.0 and m["geometric_mean_R1-R5-R10"] == 0.0


def _slow_metrics(sim: np.ndarray, complete: int) -> dict[str, float]:
    """Row by row: sort descending, average the positions equal to the diagonal."""
    ranks = []
    for i, row in enumerate(sim):
        ordered = np.sort(row)[::-1]
        ranks.append(np.mean([p for p, v in enumerate(ordered) if v == row[i]]))
    ranks = np.array(ranks)
    out = {"R1": 100.0 * sum(r == 0 for r in ranks) / complete}
    for k in (5, 10, 50):
        out[f"R{k}"] = 100.0 * sum(r < k for r in ranks) / complete
    out["MedR"] = float(np.median(ranks)) + 1
    out["MeanR"] = float(np.mean(ranks)) + 1
    return out


@pytest.mark.parametrize("complete", [None, 400])
def test_random_matrix_matches_slow_loop(complete):
    rng = np.random.default_rng(0)
    n = 300
    # Coarse values on a signal-boosted diagonal: many exact ties and ranks spread over 0..n.
    sim = rng.integers(0, 40, size=(n, n)).astype(np.float32)
    sim[np.arange(n), np.arange(n)] += rng.integers(0, 25, size=n)
    fast = retrieval_metrics(sim, complete_size=complete)
    slow = _slow_metrics(sim, complete or n)
    assert {k: fast[k] for k in slow} == slow
    ranks = diagonal_ranks(sim)
    assert np.any(ranks != np.round(ranks))  # ties did occur
    assert 0 < fast["R1"] < fast["R10"] < fast["R50"] < 100


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        retrieval_metrics(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        retrieval_metrics(SPEC_MATRIX, complete_size=3)
    bad = SPEC_MATRIX.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError):
        retrieval_metrics(bad)


@pytest.mark.parametrize(("n", "complete"), [(20, None), (8, 12)])
def test_chance_metrics_match_simulation(n, complete):
    rng = np.random.default_rng(1)
    trials = 4000
    sims = rng.random((trials, n, n))
    ranks = np.stack([diagonal_ranks(s) for s in sims])  # (trials, n)
    total = complete or n
    chance = chance_metrics(n, complete)
    for k in (1, 5, 10):
        simulated = 100.0 * np.mean(np.sum(ranks < k, axis=1)) / total
        assert simulated == pytest.approx(chance[f"R{k}"], rel=0.05)
    assert np.mean(ranks) + 1 == pytest.approx(chance["MeanR"], rel=0.02)
    assert np.mean(np.median(ranks, axis=1)) + 1 == pytest.approx(chance["MedR"], rel=0.02)
    assert chance["R50"] == 100.0 * n / total


LONG = {"t": "text", "v": "video", "a": "audio"}


def _outputs(n: int = 6, d: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    names = ["text", "video", "audio", "tv", "ta", "va", "t+v", "t+a", "v+a"]
    out = {f"{k}_embed": torch.randn(n, d, generator=g) for k in names}
    for m in ("text", "video", "audio"):
        out[f"{m}_nonempty_input_mask"] = torch.ones(n, dtype=torch.bool)
    return out


def test_similarity_task_names_and_values():
    out = _outputs()
    sims = similarity_tasks(out)
    expected = ["t2v", "t2a", "t2va", "t2v+a", "v2a", "v2ta", "v2t+a", "a2tv", "a2t+v"]
    assert list(sims) == expected
    for name, sim in sims.items():
        assert sim.shape == (6, 6) and sim.dtype == np.float32
        query, gallery = (LONG.get(x, x) for x in name.split("2"))
        a = torch.nn.functional.normalize(out[f"{query}_embed"], dim=1)
        b = torch.nn.functional.normalize(out[f"{gallery}_embed"], dim=1)
        np.testing.assert_allclose(sim, (a @ b.T).numpy(), atol=1e-6)


def test_similarity_tasks_with_missing_modality_and_numpy():
    keep = ["text_embed", "video_embed", "tv_embed", "t+v_embed", "text_nonempty_input_mask"]
    out = {k: v.numpy() for k, v in _outputs().items() if k in keep}
    sims = similarity_tasks(out)
    assert list(sims) == ["t2v"] and sims["t2v"].shape == (6, 6)


def test_zero_embedding_gives_zero_similarity():
    out = {"text_embed": torch.zeros(2, 3), "video_embed": torch.ones(2, 3)}
    assert np.all(similarity_tasks(out)["t2v"] == 0)
    sim = cosine_similarity(torch.tensor([[3.0, 4.0], [0.0, 0.0]]), torch.tensor([[6.0, 8.0]]))
    assert sim.tolist() == [[pytest.approx(1.0)], [0.0]]


def test_metrics_for_tasks_uses_transposes():
    sims = similarity_tasks(_outputs(n=30))
    results = metrics_for_tasks(sims, complete_size=40)
    assert list(results) == list(METRIC_TASKS)
    for name in METRIC_TASKS:
        matrix = sims[name] if name in sims else sims[reverse_task(name)].T
        assert results[name] == retrieval_metrics(matrix, complete_size=40)
    # A reverse task really is the transpose. Column 0 beats every row's own score, so text
    # rows 1..9 rank 1 (t2v R1 = 10); as v2t, video 0 ties all ten texts and the others win.
    sim = np.zeros((10, 10))
    sim[:, 0] = 1.0
    sim[np.arange(1, 10), np.arange(1, 10)] = 0.5
    both = metrics_for_tasks({"t2v": sim}, names=["t2v", "v2t"])
    assert both["t2v"]["R1"] == 10.0 and both["v2t"]["R1"] == 90.0
    assert both["v2t"]["MeanR"] == 1 + 4.5 / 10
    assert metrics_for_tasks({"t2v": sim}, names=["t2a"]) == {}


class FakeModel(nn.Module):
    """Returns the contract's output keys; records the calls and whether it was in eval mode."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.calls: list[tuple[int, bool, bool, bool]] = []

    def forward(self, batch, force_cross_modal=False):
        text, video = batch["text"].mean(1), batch["video"].mean(1)
        self.calls.append(
            (text.shape[0], force_cross_modal, self.training, torch.is_grad_enabled())
        )
        out = {"text_embed": self.proj(text), "video_embed": self.proj(video)}
        if force_cross_modal:
            out["tv_embed"] = out["text_embed"] + out["video_embed"]
            out["t+v_embed"] = out["text_embed"] - out["video_embed"]
        out["text_nonempty_input_mask"] = batch["text_mask"].sum(1) > 0
        out["video_nonempty_input_mask"] = batch["video_mask"].sum(1) > 0
        return out


def test_embed_batches_slices_and_concatenates():
    torch.manual_seed(0)
    n = 10
    batch = {
        "text": torch.randn(n, 2, 4),
        "text_mask": torch.ones(n, 2),
        "video": torch.randn(n, 3, 4),
        "video_mask": torch.ones(n, 3),
    }
    batch["text_mask"][4] = 0
    model = FakeModel().train()
    out = embed_batches(model, batch, batch_size=4)
    assert [c[0] for c in model.calls] == [4, 4, 2]
    assert all(c[1:] == (True, False, False) for c in model.calls)  # cross-modal, eval, no grad
    assert model.training  # mode restored
    with torch.no_grad():
        whole = FakeModel.forward(model, batch, force_cross_modal=True)
    assert set(out) == set(whole)
    for name in whole:
        torch.testing.assert_close(out[name], whole[name])
        assert out[name].device.type == "cpu"
    assert out["text_nonempty_input_mask"].tolist() == [True] * 4 + [False] + [True] * 5
    assert not out["text_embed"].requires_grad


def test_embed_batches_rejects_ragged_batch():
    batch = {"text": torch.zeros(3, 2, 4), "video": torch.zeros(2, 3, 4)}
    with pytest.raises(ValueError):
        embed_batches(FakeModel(), batch, batch_size=2)
