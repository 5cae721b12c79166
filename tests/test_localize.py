"""The step-localization entry point's scoring: perfect scores reach full recall and overlap,
chance (random scores through the same pipeline) stays below, and the [open] switches work."""

from __future__ import annotations

import numpy as np
import pytest

from eao.evaluate import localize
from eao.ingest.crosstask import ground_truth


def _video(task: str, intervals: list[tuple[float, float]], n_frames: int, noise: float, rng):
    truth = ground_truth([[iv] for iv in intervals], n_frames)
    scores = truth.astype(np.float64) + noise * rng.standard_normal(truth.shape)
    # domain log-probabilities: the right step likely, every step of a background frame less
    # likely than uniform (the mass is on other texts of the domain)
    log_probs = np.where(truth > 0, np.log(0.9), np.log(0.05))
    return {"task": task, "truth": truth, "scores": scores, "log_probs": log_probs}


@pytest.mark.parametrize("benchmark", ["crosstask", "mining_youtube"])
def test_perfect_scores_give_full_recall_and_beat_chance(benchmark):
    rng = np.random.default_rng(0)
    videos = [_video(f"task{i % 2}", [(1, 3), (4, 6), (7, 10)], 12, 0.0, rng) for i in range(4)]
    result = localize.score_videos(benchmark, videos, 0.05, "uniform", 3)
    assert result["recall_pooled"] == 100.0 and result["recall_per_video"] == 100.0
    assert result["IoU"] == 100.0 and result["IoD"] == 100.0
    chance = localize.chance(
        benchmark, videos, draws=10, seed=0, temperature=0.05, background="uniform", n_domain=3
    )
    assert chance["recall_pooled"] < 60 and chance["IoU"] < result["IoU"]
    if benchmark == "crosstask":
        assert set(result["per_task_pooled"]) == {"task0", "task1"}


def test_background_switch_changes_the_alignment():
    rng = np.random.default_rng(1)
    # steps cover a third of the frames: without background they must tile the whole video
    v = _video("t", [(0, 2), (5, 7), (10, 12)], 15, 0.01, rng)
    with_bg = localize.score_videos("crosstask", [v], 0.05, "uniform", 3)
    no_bg = localize.score_videos("crosstask", [v], 0.05, "none", 3)
    assert with_bg["IoD"] > no_bg["IoD"]


def test_domain_log_probs_are_a_softmax_over_every_text():
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
    lp = localize.domain_log_probs(sim, [2, 0], temperature=0.05)
    full = np.exp(sim / 0.05) / np.exp(sim / 0.05).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(lp), full[:, [2, 0]], rtol=1e-9)
