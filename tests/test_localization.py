"""Step localisation: the ordered DP and alignment checked against brute force over every
monotone path, recall and IoU/IoD by hand, and how videos with no more windows than steps
(T <= K) and the background score are counted (CrossTask's dp.pyx / get_recalls rules)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eao.evaluate import localize
from eao.evaluate.alignment import (
    alignment_overlap,
    crosstask_dp,
    crosstask_recall,
    log_softmax,
    mining_recall,
    ordered_alignment,
    predict_steps,
    segmentation_scores,
    step_hits,
)


def _paths(n_frames: int, n_steps: int, steps_repeat: bool):
    """Every state path of the chain bg_0, step_1, ..., step_K, bg_K (states 0..2K) that starts
    from bg_0 before frame 0, moves by stay / +1 / +2 (the +2 only into a step), stays in a step
    only if steps_repeat, and ends in step_K or bg_K."""
    last = 2 * n_steps

    def extend(path):
        if len(path) == n_frames + 1:
            if path[-1] >= last - 1:
                yield path[1:]
            return
        s = path[-1]
        moves = [s] if (s % 2 == 0 or steps_repeat) else []
        moves.append(s + 1)
        if (s + 2) % 2 == 1:
            moves.append(s + 2)
        for nxt in moves:
            if nxt <= last:
                yield from extend(path + [nxt])

    yield from extend([0])


def _path_cost(path, cost, bg_cost):
    return sum(cost[t, (s - 1) // 2] if s % 2 else bg_cost for t, s in enumerate(path))


def _brute_force(cost, bg_cost, steps_repeat):
    """(minimum cost, list of optimal paths)."""
    paths = list(_paths(*cost.shape, steps_repeat))
    costs = np.array([_path_cost(p, cost, bg_cost) for p in paths])
    best = costs.min()
    return best, [p for p, c in zip(paths, costs, strict=True) if c == best]


def test_path_enumerator_counts():
    # exactly_one paths = choices of K strictly increasing frames out of T.
    for t, k in [(3, 1), (5, 2), (6, 3)]:
        assert len(list(_paths(t, k, steps_repeat=False))) == len(
            list(itertools.combinations(range(t), k))
        )


@pytest.mark.parametrize("n_steps", [1, 2, 3])
def test_dp_matches_brute_force(n_steps):
    rng = np.random.default_rng(n_steps)
    for n_frames in range(n_steps, 8):
        for _ in range(6):
            scores = rng.standard_normal((n_frames, n_steps)).astype(np.float32)
            y = predict_steps(scores)
            assert y.shape == scores.shape and y.dtype == np.uint8
            assert (y.sum(axis=0) == 1).all()  # exactly one frame per step
            frames = y.argmax(axis=0)
            assert (np.diff(frames) > 0).all()  # in order, strictly increasing
            best, optimal = _brute_force(-scores.astype(np.float64), 0.0, steps_repeat=False)
            assert len(optimal) == 1  # continuous random scores: a unique optimum
            expected = [t for t, s in enumerate(optimal[0]) if s % 2 == 1]
            assert frames.tolist() == expected
            assert -scores[frames, np.arange(n_steps)].astype(np.float64).sum() == pytest.approx(
                best
            )


def test_dp_equals_best_increasing_frames():
    # The DP = the best strictly increasing choice of one frame per step.
    rng = np.random.default_rng(7)
    for _ in range(30):
        scores = rng.random((9, 4)).astype(np.float32)
        best = max(
            itertools.combinations(range(9), 4),
            key=lambda fr: scores[list(fr), np.arange(4)].astype(np.float64).sum(),
        )
        assert predict_steps(scores).argmax(axis=0).tolist() == list(best)


def test_dp_invariant_to_per_step_shift_and_scale():
    rng = np.random.default_rng(3)
    scores = rng.random((12, 4)).astype(np.float32)
    y = predict_steps(scores)
    shifted = (scores * 3 + np.array([1.0, -2.0, 0.5, 7.0])).astype(np.float32)
    assert np.array_equal(predict_steps(shifted), y)


def test_dp_ties_follow_reference_order():
    # All scores equal: every path ties. Worked by hand from dp.pyx's rules (end: prefer step_K;
    # predecessor: stay, then previous state, then skip): the traceback waits in bg_{K-1} as
    # long as it can, so steps 1..K-1 take frames 0..K-2 and step K the last frame.
    y = crosstask_dp(np.zeros((6, 3), dtype=np.float32))
    assert y.argmax(axis=0).tolist() == [0, 1, 5]
    assert crosstask_dp(np.zeros((4, 1))).argmax(axis=0).tolist() == [3]


def test_dp_edge_cases():
    assert np.array_equal(crosstask_dp(np.ones((3, 3))), np.eye(3, dtype=np.uint8))  # T = K
    y = crosstask_dp(np.zeros((2, 3)))  # T < K: no path, no prediction (not an error)
    assert y.shape == (2, 3) and y.dtype == np.uint8 and not y.any()
    assert crosstask_dp(np.zeros((0, 2))).shape == (0, 2)
    with pytest.raises(ValueError):
        crosstask_dp(np.array([[np.nan]]))


def test_dp_background_cost_is_constant_over_paths():
    # Every path has T - K background frames, so bg_cost cannot change the choice.
    rng = np.random.default_rng(4)
    cost = rng.standard_normal((10, 3))
    assert np.array_equal(crosstask_dp(cost, bg_cost=5.0), crosstask_dp(cost))


def test_step_hits_and_recall_by_hand():
    y_true = np.zeros((6, 3), dtype=np.uint8)
    y_true[1:3, 0] = 1  # step 0 in frames 1-2
    y_true[4, 1] = 1  # step 1 at frame 4; step 2 absent
    y_pred = np.zeros_like(y_true)
    y_pred[2, 0] = y_pred[3, 1] = y_pred[5, 2] = 1
    assert step_hits(y_true, y_pred) == (1, 2)
    all_hit = np.zeros_like(y_true)
    all_hit[1, 0] = all_hit[4, 1] = all_hit[5, 2] = 1
    assert step_hits(y_true, all_hit) == (2, 2)
    one_step = np.zeros((4, 2), dtype=np.uint8)
    one_step[0, 0] = 1

    videos = [
        ("a", y_true, y_pred),  # 1/2
        ("a", y_true, all_hit),  # 2/2
        ("a", one_step, one_step),  # 1/1
        ("b", y_true, y_pred),  # 1/2
        ("b", np.zeros((4, 2)), np.eye(4, 2)),  # no annotated step: left out
    ]
    r = crosstask_recall(videos)
    assert r["per_task_pooled"] == {"a": 100 * 4 / 5, "b": 50.0}
    assert r["per_task_per_video"]["a"] == pytest.approx(100 * (0.5 + 1 + 1) / 3)
    assert r["recall_pooled"] == pytest.approx((80 + 50) / 2)
    assert r["recall_per_video"] == pytest.approx((100 * 2.5 / 3 + 50) / 2)
    assert (r["videos"], r["videos_without_steps"]) == (5, 1)

    m = mining_recall([(v[1], v[2]) for v in videos])
    assert m["recall_per_video"] == pytest.approx(100 * (0.5 + 1 + 1 + 0.5) / 4)
    assert m["recall_pooled"] == pytest.approx(100 * 5 / 7)


def test_log_softmax():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]])
    out = log_softmax(x, temperature=0.5)
    np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0)
    np.testing.assert_allclose(out[0], x[0] / 0.5 - np.log(np.exp(x[0] / 0.5).sum()))
    assert np.isfinite(out).all()


@pytest.mark.parametrize("bg", [None, -0.7])
def test_alignment_matches_brute_force(bg):
    rng = np.random.default_rng(11)
    for n_steps in (1, 2, 3):
        for n_frames in range(n_steps, 8):
            log_probs = log_softmax(rng.standard_normal((n_frames, n_steps)))
            labels = ordered_alignment(log_probs, bg_log_prob=bg)
            bg_cost = np.inf if bg is None else -bg
            best, optimal = _brute_force(-log_probs, bg_cost, steps_repeat=True)
            assert len(optimal) == 1
            expected = [(s - 1) // 2 if s % 2 else -1 for s in optimal[0]]
            assert labels.tolist() == expected
            steps = labels[labels >= 0]
            assert sorted(set(steps.tolist())) == list(range(n_steps))  # every entry present
            assert (np.diff(steps) >= 0).all()  # in order, one contiguous segment each
            if bg is None:
                assert (labels >= 0).all()


def test_alignment_by_hand():
    # Entry 0 is likely in frames 0-1, entry 1 in frames 3-4; frame 2 is ambiguous.
    p = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9], [0.2, 0.8]]))
    assert ordered_alignment(p).tolist() in ([0, 0, 0, 1, 1], [0, 0, 1, 1, 1])
    # A background scoring above 0.5 takes frame 2 instead.
    assert ordered_alignment(p, bg_log_prob=np.log(0.6)).tolist() == [0, 0, -1, 1, 1]
    # Order is forced even against the scores: entry 1 cannot come before entry 0.
    rev = p[::-1]
    labels = ordered_alignment(rev)
    assert labels[0] == 0 and labels[-1] == 1
    # One frame cannot hold two entries: nothing is predicted (no error), with or without bg.
    assert ordered_alignment(np.zeros((1, 2))).tolist() == [-1]
    assert ordered_alignment(np.zeros((1, 2)), bg_log_prob=-1.0).tolist() == [-1]


def test_overlap_scores_by_hand():
    y_true = np.zeros((8, 3), dtype=np.uint8)
    y_true[0:4, 0] = 1  # entry 0: frames 0-3
    y_true[5:7, 1] = 1  # entry 1: frames 5-6; entry 2 absent
    labels = np.array([0, 0, 1, 1, 1, 1, -1, 2])
    # entry 0: G={0..3}, D={0,1}: IoU 2/4, IoD 2/2; entry 1: G={5,6}, D={2..5}: IoU 1/5, IoD 1/4.
    iou, iod = alignment_overlap(y_true, labels)
    assert iou == pytest.approx((2 / 4 + 1 / 5) / 2)
    assert iod == pytest.approx((1 + 1 / 4) / 2)
    assert alignment_overlap(np.zeros((3, 2)), np.array([0, 1, 1])) is None

    perfect = np.array([0, 0, 0, 0, -1, 1, 1, -1])
    s = segmentation_scores([(y_true, labels), (y_true, perfect), (np.zeros((3, 2)), labels[:3])])
    assert s["IoU"] == pytest.approx(100 * ((2 / 4 + 1 / 5) / 2 + 1) / 2)
    assert s["IoD"] == pytest.approx(100 * ((1 + 1 / 4) / 2 + 1) / 2)
    assert (s["videos"], s["videos_without_steps"]) == (2, 1)


# -- videos with no more windows than steps (T <= K) ---------------------------------------------
# CrossTask's evaluation (dp.pyx + get_recalls in train.py, checked on a build of dp.pyx) runs the
# DP on every test video and counts every annotated step: with T < K its output is all zeros, so
# the steps are misses. With T = K it returns the identity only when the last similarity is >= 0
# and all zeros otherwise (a stale end-state comparison); we always return the identity.


def test_short_video_predicts_nothing_and_counts_its_steps_as_misses():
    scores = np.array([[0.5, 0.2, 0.9], [0.1, 0.8, 0.3]], dtype=np.float32)  # T = 2 < K = 3
    y = predict_steps(scores)
    assert y.shape == (2, 3) and not y.any()
    truth = np.zeros((2, 3), dtype=np.uint8)
    truth[0, 0] = truth[1, 2] = 1  # steps 0 and 2 present, step 1 absent
    assert step_hits(truth, y) == (0, 2)


@pytest.mark.parametrize(
    "scores",
    [
        [[0.5, 0.2], [0.1, 0.3]],  # last similarity positive: the reference agrees
        [[0.5, 0.2], [0.1, -0.3]],  # negative: the reference predicts nothing, we keep the identity
        [[-0.5, -0.2], [-0.1, -0.3]],
    ],
)
def test_as_many_windows_as_steps_gives_the_identity(scores):
    y = predict_steps(np.array(scores, dtype=np.float32))
    assert np.array_equal(y, np.eye(2, dtype=np.uint8))
    assert step_hits(np.eye(2), y) == (2, 2)  # the reference's 0 / 2 in the negative case
    assert np.array_equal(predict_steps(np.array([[-0.3]], dtype=np.float32)), [[1]])
    # bg_cost below the last cost would also flip the reference to "nothing"; not us.
    cost = -np.array(scores, dtype=np.float32)
    assert np.array_equal(crosstask_dp(cost, bg_cost=-5.0), np.eye(2, dtype=np.uint8))


def _short_world():
    """Three videos of task "a", K from 2 to 3, by hand:
    v1 T=4 K=3: steps at frames 0, 2, 3; scores = truth -> DP frames 0, 2, 3: 3 / 3 hits;
       log-probs 0.9 on the truth, 0.05 elsewhere, background 1/4 -> labels [0, -1, 1, 2],
       IoU = IoD = 1.
    v2 T=2 K=3 (short): steps 0 and 2 present -> no prediction: 0 / 2, IoU = IoD = 0.
    v3 T=K=2: truth = identity, last similarity negative -> identity: 2 / 2, IoU = IoD = 1."""
    t1 = np.zeros((4, 3), dtype=np.uint8)
    t1[0, 0] = t1[2, 1] = t1[3, 2] = 1
    t2 = np.zeros((2, 3), dtype=np.uint8)
    t2[0, 0] = t2[1, 2] = 1
    t3 = np.eye(2, dtype=np.uint8)
    s2 = np.array([[0.9, 0.1, 0.1], [0.1, 0.1, 0.9]])
    s3 = np.array([[0.5, -0.9], [-0.9, -0.1]])
    videos = []
    for truth, scores in ((t1, t1.astype(np.float64)), (t2, s2), (t3, s3)):
        log_probs = np.log(np.where(truth > 0, 0.9, 0.05))
        videos.append({"task": "a", "truth": truth, "scores": scores, "log_probs": log_probs})
    return videos


@pytest.mark.parametrize("benchmark", ["crosstask", "mining_youtube"])
def test_short_videos_are_scored_by_default(benchmark):
    r = localize.score_videos(benchmark, _short_world(), 0.05, "uniform", 4)
    assert r["recall_pooled"] == pytest.approx(100 * 5 / 7)  # (3 + 0 + 2) / (3 + 2 + 2)
    assert r["recall_per_video"] == pytest.approx(100 * 2 / 3)  # (1 + 0 + 1) / 3
    assert r["IoU"] == pytest.approx(100 * 2 / 3) and r["IoD"] == pytest.approx(100 * 2 / 3)
    assert r["videos"] == 3
    short = r["short_videos"]
    assert (short["fewer_windows_than_steps"], short["as_many_windows_as_steps"]) == (1, 1)
    assert short["counted_as"].startswith("misses")


def test_skip_short_videos_switch_leaves_short_videos_out():
    r = localize.score_videos("crosstask", _short_world(), 0.05, "uniform", 4, skip_short=True)
    assert r["recall_pooled"] == 100.0 and r["recall_per_video"] == 100.0  # (3 + 2) / (3 + 2)
    assert r["IoU"] == 100.0 and r["IoD"] == 100.0
    assert r["videos"] == 2
    assert r["short_videos"]["fewer_windows_than_steps"] == 1
    assert r["short_videos"]["counted_as"] == "skipped"
    with pytest.raises(ValueError, match="no video left"):
        localize.score_videos("crosstask", _short_world()[1:2], 0.05, "uniform", 4, True)
    chance = localize.chance("crosstask", _short_world(), 3, 0, 0.05, "uniform", 4, True)
    assert chance["draws"] == 3 and 0 <= chance["recall_pooled"] <= 100


def test_skip_short_videos_cli_option():
    base = ["--benchmark", "crosstask", "--model", "m", "--annotations", "a", "--text", "t"]
    assert localize.parse_args([*base, "--out", "o"]).skip_short_videos is False
    assert localize.parse_args([*base, "--out", "o", "--skip-short-videos"]).skip_short_videos


def test_short_video_overlap_is_zero_not_an_error():
    y_true = np.zeros((2, 3), dtype=np.uint8)
    y_true[0, 0] = y_true[1, 2] = 1
    labels = ordered_alignment(np.log(np.full((2, 3), 1 / 3)), bg_log_prob=np.log(0.1))
    assert labels.tolist() == [-1, -1]
    assert alignment_overlap(y_true, labels) == (0.0, 0.0)
    perfect = np.array([0, -1, 1, 2])
    y1 = np.zeros((4, 3), dtype=np.uint8)
    y1[0, 0] = y1[2, 1] = y1[3, 2] = 1
    s = segmentation_scores([(y1, perfect), (y_true, labels)])
    assert (s["IoU"], s["IoD"], s["videos"]) == (50.0, 50.0, 2)


# -- the background score of the segmentation: log(1/C), C = the softmax's domain ----------------


def test_background_log_prob_values():
    assert localize.background_log_prob("uniform", 10, 2) == pytest.approx(-2.302585093)
    assert localize.background_log_prob("uniform", 0, 2) == pytest.approx(-0.693147181)
    assert localize.background_log_prob("uniform", None, 3) == pytest.approx(-1.098612289)
    assert localize.background_log_prob("none", 10, 2) is None
    with pytest.raises(ValueError):
        localize.background_log_prob("uniform", 0, 0)


def test_background_uses_the_dataset_class_count():
    # Frame 1 gives entry 0 probability 0.2: above 1/C = 0.1 with C = 10 dataset texts, below
    # 1/K = 0.5 with the video's K = 2 steps (the softmax over the video).
    p = np.log(np.array([[0.6, 0.01], [0.2, 0.01], [0.01, 0.7]]))
    assert localize.segmentation_labels(p, "uniform", 10).tolist() == [0, 0, 1]
    assert localize.segmentation_labels(p, "uniform", 0).tolist() == [0, -1, 1]
    assert localize.segmentation_labels(p, "none", 10).tolist() == [0, 0, 1]  # tiled
    truth = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.uint8)
    video = {"task": "t", "truth": truth, "scores": truth.astype(np.float64), "log_probs": p}
    dataset = localize.score_videos("crosstask", [video], 0.05, "uniform", 10)
    assert (dataset["IoU"], dataset["IoD"]) == (100.0, 100.0)
    # C = K = 2: entry 0 keeps only frame 0: IoU 1/2, IoD 1; entry 1 exact -> 75 / 100.
    own = localize.score_videos("crosstask", [video], 0.05, "uniform", 0)
    assert own["IoU"] == pytest.approx(75.0) and own["IoD"] == pytest.approx(100.0)
